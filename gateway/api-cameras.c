/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * /v1/cameras and /v1/cameras/{id}/live.mp4. The display is already resolved
 * by HearthHttpServer (the choke point); each handler asks HearthAccess which
 * cameras that display may see, and answers 404 alike for a camera of another
 * household and one that does not exist.
 */
#define G_LOG_DOMAIN "hearth-api"

#include "http-server.h"
#include "error.h"

static void
add_camera_json (JsonBuilder *b, const HearthCameraRow *row, HearthCamera *camera)
{
  const char *codec = NULL;
  int width = 0, height = 0;
  double fps = 0;
  gboolean known = camera && hearth_camera_get_video_info (camera, &codec, &width,
                                                           &height, &fps);
  const char *audio = NULL;

  if (camera != NULL)
    hearth_camera_get_audio_info (camera, &audio, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, row->id);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, row->name);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, hearth_camera_get_state_name (camera));
  json_builder_set_member_name (b, "codec");
  if (known)
    json_builder_add_string_value (b, codec);
  else
    json_builder_add_null_value (b);
  /* "aac" or "none": what live.mp4 carries besides the video. */
  json_builder_set_member_name (b, "audio");
  if (audio != NULL)
    json_builder_add_string_value (b, audio);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "width");
  if (known)
    json_builder_add_int_value (b, width);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "height");
  if (known)
    json_builder_add_int_value (b, height);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "fps");
  if (known && fps > 0)
    json_builder_add_double_value (b, fps);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
}

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
    add_camera_json (b, row,
                     hearth_http_server_lookup_camera (request->server, row->id));
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  hearth_http_reply_json (request->msg, SOUP_STATUS_OK, root);
}

void
hearth_api_camera_live (HearthHttpRequest *request, const char *camera_id)
{
  HearthAccess *access = hearth_http_server_get_access (request->server);
  g_autoptr (HearthCameraRow) row = NULL;
  g_autoptr (GError) error = NULL;

  row = hearth_access_camera (access, request->display, camera_id, &error);
  if (row == NULL) {
    hearth_http_reply_gerror (request->msg, error);
    return;
  }
  hearth_http_server_start_live (request, row);
}
