/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthHttpRoutes: the stream port's routes by path pattern, as the admin
 * socket's methods are by name (admin.c): HearthHttpServer makes the table,
 * each api-*.c adds its route with the state it owns (the snapshot cache,
 * the HLS indexes, the live writers), and every request that passed the
 * choke point is matched here and handed to its route's handler. Matching is
 * pure (tests/test-http-routes.c, tests/fuzz/fuzz-route.c). Main context
 * only.
 */
#define G_LOG_DOMAIN "hearth-http-routes"

#include "http-routes.h"

#include <string.h>

struct _HearthHttpRoute {
  const char *name;
  const char *pattern;
  char **segments;              /* of the pattern, after its leading '/' */
  HearthHttpMethods methods;
  HearthHttpHandler handler;
  gpointer state;
  GDestroyNotify destroy;
};

struct _HearthHttpRoutes {
  GPtrArray *routes;            /* of HearthHttpRoute, in the order added */
};

static void
route_free (HearthHttpRoute *route)
{
  if (route->destroy != NULL)
    route->destroy (route->state);
  g_strfreev (route->segments);
  g_free (route);
}

HearthHttpRoutes *
hearth_http_routes_new (void)
{
  HearthHttpRoutes *self = g_new0 (HearthHttpRoutes, 1);

  self->routes = g_ptr_array_new_with_free_func ((GDestroyNotify) route_free);
  return self;
}

void
hearth_http_routes_free (HearthHttpRoutes *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref (self->routes);
  g_free (self);
}

static HearthHttpRoute *
route_find (HearthHttpRoutes *self, const char *name)
{
  for (guint i = 0; i < self->routes->len; i++) {
    HearthHttpRoute *route = self->routes->pdata[i];

    if (g_str_equal (route->name, name))
      return route;
  }
  return NULL;
}

void
hearth_http_routes_add (HearthHttpRoutes *self, const char *name,
                        const char *pattern, HearthHttpMethods methods,
                        HearthHttpHandler handler, gpointer state,
                        GDestroyNotify destroy)
{
  HearthHttpRoute *route;

  g_return_if_fail (pattern[0] == '/');
  g_return_if_fail (route_find (self, name) == NULL);

  route = g_new0 (HearthHttpRoute, 1);
  route->name = name;
  route->pattern = pattern;
  route->segments = g_str_equal (pattern, "/") ? g_new0 (char *, 1)
                                               : g_strsplit (pattern + 1, "/", -1);
  route->methods = methods;
  route->handler = handler;
  route->state = state;
  route->destroy = destroy;
  g_ptr_array_add (self->routes, route);
}

gpointer
hearth_http_routes_get_state (HearthHttpRoutes *self, const char *name)
{
  HearthHttpRoute *route = route_find (self, name);

  return route != NULL ? route->state : NULL;
}

/* A segment that names something, not a place: not empty, "." or "..". */
static gboolean
names_something (const char *segment, gsize len)
{
  return len > 0 && !(len == 1 && segment[0] == '.') &&
         !(len == 2 && segment[0] == '.' && segment[1] == '.');
}

/* Whether every segment of @path (after its leading '/') names something:
 * no route answers a path that climbs, stays or doubles a slash. */
static gboolean
path_is_plain (const char *path)
{
  const char *at = path;

  for (;;) {
    const char *end = strchr (at, '/');
    gsize len = end != NULL ? (gsize) (end - at) : strlen (at);

    if (!names_something (at, len))
      return FALSE;
    if (end == NULL)
      return TRUE;
    at = end + 1;
  }
}

/* @path after its leading '/' against @route's segments; the captures are
 * added to @captures. */
static gboolean
route_matches (const HearthHttpRoute *route, const char *path,
               GPtrArray *captures)
{
  const char *at = path;

  for (guint i = 0; route->segments[i] != NULL; i++) {
    const char *segment = route->segments[i];
    const char *end;
    gsize len;

    if (at == NULL)
      return FALSE;
    if (segment[0] == '*' && segment[1] == '\0' &&
        route->segments[i + 1] == NULL)
      return TRUE;
    end = strchr (at, '/');
    len = end != NULL ? (gsize) (end - at) : strlen (at);
    if (segment[0] == '{') {
      if (len == 0)
        return FALSE;
      g_ptr_array_add (captures, g_strndup (at, len));
    } else if (strncmp (segment, at, len) != 0 || segment[len] != '\0') {
      return FALSE;
    }
    at = end != NULL ? end + 1 : NULL;
  }
  /* The root's pattern has no segment: only "/" is left of its path. */
  return at == NULL || (route->segments[0] == NULL && *at == '\0');
}

const HearthHttpRoute *
hearth_http_routes_match (HearthHttpRoutes *self, const char *path,
                          char ***captures)
{
  g_autoptr (GPtrArray) found = NULL;

  if (captures != NULL)
    *captures = NULL;
  if (path == NULL || path[0] != '/' ||
      (path[1] != '\0' && !path_is_plain (path + 1)))
    return NULL;

  found = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < self->routes->len; i++) {
    const HearthHttpRoute *route = self->routes->pdata[i];

    if (!route_matches (route, path + 1, found)) {
      g_ptr_array_set_size (found, 0);
      continue;
    }
    if (captures != NULL) {
      g_ptr_array_add (found, NULL);
      *captures = (char **) g_ptr_array_free (g_steal_pointer (&found), FALSE);
    }
    return route;
  }
  return NULL;
}

const char *
hearth_http_route_get_name (const HearthHttpRoute *route)
{
  return route->name;
}

const char *
hearth_http_route_get_pattern (const HearthHttpRoute *route)
{
  return route->pattern;
}

gboolean
hearth_http_route_allows (const HearthHttpRoute *route, const char *method)
{
  return (g_str_equal (method, SOUP_METHOD_GET) && (route->methods & HEARTH_HTTP_GET)) ||
         (g_str_equal (method, SOUP_METHOD_HEAD) && (route->methods & HEARTH_HTTP_HEAD)) ||
         (g_str_equal (method, SOUP_METHOD_POST) && (route->methods & HEARTH_HTTP_POST));
}

void
hearth_http_route_dispatch (const HearthHttpRoute *route,
                            HearthHttpRequest *request)
{
  g_autoptr (GString) allow = NULL;

  if (hearth_http_route_allows (route, soup_server_message_get_method (request->msg))) {
    route->handler (request, route->state);
    return;
  }
  allow = g_string_new (NULL);
  if (route->methods & HEARTH_HTTP_GET)
    g_string_append (allow, "GET, ");
  if (route->methods & HEARTH_HTTP_HEAD)
    g_string_append (allow, "HEAD, ");
  if (route->methods & HEARTH_HTTP_POST)
    g_string_append (allow, "POST, ");
  g_string_truncate (allow, allow->len > 2 ? allow->len - 2 : 0);
  hearth_http_reply_error (request->msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                           "method_not_allowed",
                           (route->methods & HEARTH_HTTP_GET) ? "only GET is supported"
                                                              : "use POST");
  soup_message_headers_replace (
      soup_server_message_get_response_headers (request->msg), "Allow", allow->str);
}
