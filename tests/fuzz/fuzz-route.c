/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the stream port's route parser (http-server.c), which
 * splits a request's path into the route and the camera and file it names.
 */
#include <string.h>

#include "http-server.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *path = g_strndup ((const char *) data, size);
  g_autofree char *camera_id = NULL;
  g_autofree char *name = NULL;

  switch (hearth_http_route (path, &camera_id, &name)) {
  case HEARTH_ROUTE_LIVE:
  case HEARTH_ROUTE_SNAPSHOT:
    g_assert_nonnull (camera_id);
    g_assert_null (strchr (camera_id, '/'));
    g_assert_null (name);
    break;
  case HEARTH_ROUTE_HLS:
    /* A name is one path segment: nothing above the camera's directory. */
    g_assert_nonnull (camera_id);
    g_assert_null (strchr (camera_id, '/'));
    g_assert_nonnull (name);
    g_assert_null (strchr (name, '/'));
    break;
  case HEARTH_ROUTE_WEB:
  case HEARTH_ROUTE_CAMERAS:
  case HEARTH_ROUTE_NONE:
    g_assert_null (camera_id);
    g_assert_null (name);
    break;
  default:
    g_assert_not_reached ();
  }
  return 0;
}
