/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The viewer: `/` and `/app/...`, the browser display's page, embedded as a
 * GResource (web/). Registered by HearthHttpServer; a request comes here only
 * after the choke point resolved its display, exactly as for /v1; the page itself
 * holds nothing of the store and learns the household's cameras from
 * /v1/cameras. The headers keep it to its own origin: no script, style or
 * media but the gateway's own, and no framing.
 */
#define G_LOG_DOMAIN "hearth-web"

#include "api-web.h"
#include "hearth-web.h"

#include <string.h>

#define WEB_RESOURCE_ROOT "/org/hearth/web"

static const char CONTENT_SECURITY_POLICY[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' blob:; media-src 'self' blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

static const struct {
  const char *suffix;
  const char *type;
} CONTENT_TYPES[] = {
  { ".html", "text/html; charset=utf-8" },
  { ".css", "text/css; charset=utf-8" },
  { ".js", "text/javascript; charset=utf-8" },
};

static const char *
content_type_of (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (CONTENT_TYPES); i++)
    if (g_str_has_suffix (name, CONTENT_TYPES[i].suffix))
      return CONTENT_TYPES[i].type;
  return NULL;
}

/* The request's path is "/" or "/app/NAME". */
static void
handle_file (HearthHttpRequest *request, gpointer state)
{
  const char *path = request->path;
  SoupMessageHeaders *headers =
      soup_server_message_get_response_headers (request->msg);
  g_autofree char *resource = NULL;
  g_autoptr (GBytes) bytes = NULL;
  const char *name = g_str_equal (path, "/") ? "/index.html" : path;
  const char *type = content_type_of (name);

  /* Only the files the resource holds, by their exact names. */
  if (type != NULL && strstr (name, "//") == NULL && strstr (name, "/.") == NULL) {
    resource = g_strconcat (WEB_RESOURCE_ROOT, name, NULL);
    bytes = g_resource_lookup_data (hearth_web_get_resource (), resource,
                                    G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  }
  if (bytes == NULL) {
    hearth_http_reply_not_found (request->msg);
    return;
  }

  hearth_http_set_status (request->msg, SOUP_STATUS_OK);
  soup_message_headers_replace (headers, "Content-Security-Policy",
                                CONTENT_SECURITY_POLICY);
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  /* The page is what the access check allowed just now: never kept. */
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_server_message_set_response (request->msg, type, SOUP_MEMORY_COPY,
                                    g_bytes_get_data (bytes, NULL),
                                    g_bytes_get_size (bytes));
}

void
hearth_api_web_register (HearthHttpRoutes *routes)
{
  hearth_http_routes_add (routes, "viewer", HEARTH_API_WEB_PATTERN,
                          HEARTH_HTTP_READ, handle_file, NULL, NULL);
  hearth_http_routes_add (routes, "viewer-files", HEARTH_API_WEB_FILES_PATTERN,
                          HEARTH_HTTP_READ, handle_file, NULL, NULL);
}
