/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * /v1/cameras, and what every camera route shares: which of a camera's
 * streams a request asks for (?stream=main|sub), and what a display is
 * told of a camera that has nothing to serve yet. Registered by HearthHttpServer with
 * the HearthCameras it serves, which the route looks cameras up in. The
 * display is already resolved (the choke point); the route asks
 * HearthAccess which cameras that display may see.
 */
#define G_LOG_DOMAIN "hearth-api"

#include "api-cameras.h"
#include "camera-json.h"
#include "error.h"

static void
handle_list (HearthHttpRequest *request, gpointer state)
{
  HearthCameras *cameras = state;
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;

  rows = hearth_access_cameras (request->access, request->display, &error);
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
    hearth_camera_json_add (b, row, hearth_cameras_lookup (cameras, row->id),
                            HEARTH_CAMERA_JSON_MEDIA, NULL);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  hearth_http_reply_json (request->msg, SOUP_STATUS_OK, root);
}

void
hearth_api_cameras_register (HearthHttpRoutes *routes, HearthCameras *cameras)
{
  hearth_http_routes_add (routes, "cameras", HEARTH_API_CAMERAS_PATTERN,
                          HEARTH_HTTP_READ, handle_list, g_object_ref (cameras),
                          g_object_unref);
}

void
hearth_api_camera_reply_not_ready (SoupServerMessage *msg, HearthCamera *camera)
{
  if (camera == NULL || hearth_camera_get_state (camera) == HEARTH_CAMERA_STOPPED)
    hearth_http_reply_unavailable (msg, "this camera is not running");
  else if (hearth_camera_get_state (camera) == HEARTH_CAMERA_OFFLINE ||
           hearth_camera_get_state (camera) == HEARTH_CAMERA_REFUSED)
    hearth_http_reply_unavailable (msg, "this camera is offline");
  else
    hearth_http_reply_unavailable (msg, "no picture from this camera yet");
}

HearthStream *
hearth_api_camera_ready_stream (SoupServerMessage *msg, HearthCamera *camera)
{
  HearthStream *stream = camera != NULL ? hearth_camera_get_stream (camera) : NULL;

  if (stream != NULL && hearth_stream_is_ready (stream))
    return stream;
  hearth_api_camera_reply_not_ready (msg, camera);
  return NULL;
}

gboolean
hearth_api_camera_stream_kind (HearthHttpRequest *request, const HearthCameraRow *row,
                               HearthStreamKind *kind)
{
  const char *text = request->query != NULL ?
                     g_hash_table_lookup (request->query, "stream") : NULL;

  *kind = HEARTH_STREAM_MAIN;
  if (text == NULL)
    return TRUE;
  if (!hearth_stream_kind_from_string (text, kind)) {
    hearth_http_reply_error (request->msg, SOUP_STATUS_BAD_REQUEST, "bad_request",
                             "stream must be main or sub");
    return FALSE;
  }
  if (*kind == HEARTH_STREAM_SUB && row->sub_url == NULL) {
    hearth_http_reply_error (request->msg, SOUP_STATUS_NOT_FOUND, "not_found",
                             "this camera has no sub stream");
    return FALSE;
  }
  return TRUE;
}

HearthCamera *
hearth_api_camera_lookup (HearthCameras *cameras, const char *id, HearthStreamKind kind)
{
  HearthCamera *camera = hearth_cameras_lookup (cameras, id);

  if (camera != NULL && kind == HEARTH_STREAM_SUB)
    return hearth_camera_get_sub (camera);
  return camera;
}
