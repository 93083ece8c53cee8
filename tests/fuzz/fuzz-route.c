/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the stream port's routing (http-routes.c), with the
 * patterns its routes register (api-*.h), which splits a request's path
 * into the route and the camera and file it names. Whatever the path, a
 * capture is one whole segment that names something (never empty, "." or
 * "..", never holding a '/'), and the pattern filled with the captures is
 * the path again: nothing of the path is skipped or read twice.
 */
#include <string.h>

#include "api-cameras.h"
#include "api-hls.h"
#include "api-live.h"
#include "api-snapshot.h"
#include "api-web.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
never_called (HearthHttpRequest *request, gpointer state)
{
  g_assert_not_reached ();
}

/* @pattern with its {…} segments replaced by @captures, in order. */
static char *
fill (const char *pattern, char **captures)
{
  g_auto (GStrv) segments = g_strsplit (pattern, "/", -1);
  guint next = 0;

  for (guint i = 0; segments[i] != NULL; i++) {
    if (segments[i][0] == '{') {
      g_assert_nonnull (captures[next]);
      g_free (segments[i]);
      segments[i] = g_strdup (captures[next++]);
    }
  }
  g_assert_null (captures[next]);
  return g_strjoinv ("/", segments);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static const char *patterns[] = {
    HEARTH_API_WEB_PATTERN, HEARTH_API_WEB_FILES_PATTERN,
    HEARTH_API_CAMERAS_PATTERN, HEARTH_API_LIVE_PATTERN,
    HEARTH_API_SNAPSHOT_PATTERN, HEARTH_API_HLS_PATTERN,
  };
  g_autoptr (HearthHttpRoutes) routes = hearth_http_routes_new ();
  g_autofree char *path = g_strndup ((const char *) data, size);
  g_auto (GStrv) captures = NULL;
  const HearthHttpRoute *route;
  const char *pattern;

  for (guint i = 0; i < G_N_ELEMENTS (patterns); i++)
    hearth_http_routes_add (routes, patterns[i], patterns[i], HEARTH_HTTP_READ,
                            never_called, NULL, NULL);

  route = hearth_http_routes_match (routes, path, &captures);
  if (route == NULL) {
    g_assert_null (captures);
    return 0;
  }
  pattern = hearth_http_route_get_pattern (route);
  g_assert_nonnull (captures);
  for (guint i = 0; captures[i] != NULL; i++) {
    g_assert_cmpuint (strlen (captures[i]), >, 0);
    g_assert_null (strchr (captures[i], '/'));
    g_assert_cmpstr (captures[i], !=, ".");
    g_assert_cmpstr (captures[i], !=, "..");
  }
  if (g_str_has_suffix (pattern, "/*")) {
    /* The viewer's files: below its directory, named by the path itself. */
    g_assert_cmpuint (g_strv_length (captures), ==, 0);
    g_assert_true (strncmp (path, pattern, strlen (pattern) - 1) == 0);
  } else {
    g_autofree char *again = fill (pattern, captures);

    g_assert_cmpstr (again, ==, path);
  }
  return 0;
}
