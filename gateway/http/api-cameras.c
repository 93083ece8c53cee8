/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * /v1/cameras (live.mp4 is api-live.c). The display is already resolved
 * by HearthHttpServer (the choke point); each handler asks HearthAccess which
 * cameras that display may see, and answers 404 alike for a camera of another
 * household and one that does not exist.
 */
#define G_LOG_DOMAIN "hearth-api"

#include "http-server.h"
#include "camera-json.h"
#include "error.h"

void
hearth_api_cameras_list (HearthHttpRequest *request)
{
  HearthAccess *access = hearth_http_server_get_access (request->server);
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;

  rows = hearth_access_cameras (access, request->display, &error);
  if (rows == NULL) {
    hearth_http_reply_gerror (request->msg, error);
    return;
  }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "cameras");
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++) {
    const HearthCameraRow *row = rows->pdata[i];
    /* What a display may see: no admin-only member (camera-json.c). */
    hearth_camera_json_add (b, row,
                            hearth_http_server_lookup_camera (request->server, row->id),
                            HEARTH_CAMERA_JSON_MEDIA, NULL);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  hearth_http_reply_json (request->msg, SOUP_STATUS_OK, root);
}
