/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A camera as JSON (camera-json.c): the shape each reader gets, member by
 * member and in order. A display (/v1/cameras) sees no URL, credential,
 * plugin, household, identity evidence or counter; the admin's camera.list
 * and camera.stats get theirs, and a URL never shows its password.
 */
#include <string.h>

#include "camera-json.h"

static HearthCameraRow *
door (void)
{
  HearthCameraRow *row = g_new0 (HearthCameraRow, 1);

  row->id = g_strdup ("6f1c1f52-3c36-4a5e-9d0c-0b8c2d9f4e11");
  row->household = g_strdup ("Home");
  row->name = g_strdup ("Door");
  row->url = g_strdup ("rtsp://admin:s3cret@192.168.1.20:554/stream");
  row->plugin = g_strdup ("rtsp");
  row->evidence.mdns_type = g_strdup ("_rtsp._tcp");
  row->evidence.txt_mac = g_strdup ("00:11:22:33:44:55");
  row->quarantined_at = 1700000000;
  row->quarantine_reason = g_strdup ("its TXT MAC is now 66:77:88:99:aa:bb");
  return row;
}

static char *
to_json (const HearthCameraRow *row, HearthCameraJsonFlags flags,
         const HearthCameraJsonAdmin *admin)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  hearth_camera_json_add (b, row, NULL, flags, admin);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static void
test_display (void)
{
  g_autoptr (HearthCameraRow) row = door ();
  g_autofree char *json = to_json (row, HEARTH_CAMERA_JSON_MEDIA, NULL);

  g_assert_cmpstr (json, ==,
                   "{\"id\":\"6f1c1f52-3c36-4a5e-9d0c-0b8c2d9f4e11\",\"name\":\"Door\","
                   "\"state\":\"stopped\",\"codec\":null,\"audio\":null,\"width\":null,"
                   "\"height\":null,\"fps\":null,\"sub\":null}");
  g_assert_null (strstr (json, "192.168"));
  g_assert_null (strstr (json, "Home"));
}

/* A camera with a sub stream says so to a display, and the admin's stats
 * show the sub's own figures; a display sees no sub URL either. */
static void
test_sub_stream (void)
{
  g_autoptr (HearthCameraRow) row = door ();
  HearthCameraJsonAdmin admin = { .displays = 1 };
  g_autofree char *media = NULL;
  g_autofree char *stats = NULL;

  row->sub_url = g_strdup ("rtsp://admin:s3cret@192.168.1.20:554/sub");
  media = to_json (row, HEARTH_CAMERA_JSON_MEDIA, NULL);
  g_assert_nonnull (strstr (media, ",\"sub\":{\"state\":\"stopped\",\"codec\":null,"
                                   "\"width\":null,\"height\":null,\"fps\":null}}"));
  g_assert_null (strstr (media, "192.168"));
  g_assert_null (strstr (media, "s3cret"));
  stats = to_json (row, HEARTH_CAMERA_JSON_STATS, &admin);
  g_assert_nonnull (strstr (stats, ",\"sub\":{\"state\":\"stopped\",\"codec\":null,"
                                   "\"width\":null,\"height\":null,\"generation\":0,"
                                   "\"bitrate_kbps\":0.0,\"fps\":0.0,"
                                   "\"keyframe_interval_frames\":0,"
                                   "\"keyframe_interval_s\":0.0,\"drops\":0,\"frames\":0,"
                                   "\"audio_fragments\":0,\"bytes\":0}}"));
  g_assert_null (strstr (stats, "s3cret"));
}

static void
test_stats (void)
{
  g_autoptr (HearthCameraRow) row = door ();
  HearthCameraJsonAdmin admin = { .displays = 2 };
  g_autofree char *json = to_json (row, HEARTH_CAMERA_JSON_STATS, &admin);

  g_assert_cmpstr (json, ==,
                   "{\"id\":\"6f1c1f52-3c36-4a5e-9d0c-0b8c2d9f4e11\",\"name\":\"Door\","
                   "\"state\":\"stopped\",\"codec\":null,\"audio\":null,"
                   "\"audio_source\":null,\"audio_ignored\":null,\"generation\":0,\"bitrate_kbps\":0.0,"
                   "\"fps\":0.0,\"keyframe_interval_frames\":0,\"keyframe_interval_s\":0.0,"
                   "\"displays\":2,\"drops\":0,\"frames\":0,\"audio_fragments\":0,"
                   "\"bytes\":0,\"sub\":null}");
}

static void
test_admin_list (void)
{
  g_autoptr (HearthCameraRow) row = door ();
  HearthCameraJsonAdmin admin = { .plugin = "rtsp", .announced = TRUE };
  g_autofree char *json = to_json (row, HEARTH_CAMERA_JSON_ADMIN, &admin);

  g_assert_cmpstr (json, ==,
                   "{\"id\":\"6f1c1f52-3c36-4a5e-9d0c-0b8c2d9f4e11\",\"household\":\"Home\","
                   "\"name\":\"Door\",\"url\":\"rtsp://***@192.168.1.20:554/stream\","
                   "\"sub_url\":null,"
                   "\"plugin\":\"rtsp\",\"state\":\"quarantined\","
                   "\"reason\":\"its TXT MAC is now 66:77:88:99:aa:bb\",\"announced\":true,"
                   "\"evidence\":{\"mdns_type\":\"_rtsp._tcp\",\"mdns_name\":null,"
                   "\"txt_id\":null,\"txt_serial\":null,\"txt_mac\":\"00:11:22:33:44:55\","
                   "\"mac\":null,\"certificate\":null}}");
  g_assert_null (strstr (json, "s3cret"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hearth/camera-json/display", test_display);
  g_test_add_func ("/hearth/camera-json/stats", test_stats);
  g_test_add_func ("/hearth/camera-json/sub-stream", test_sub_stream);
  g_test_add_func ("/hearth/camera-json/admin-list", test_admin_list);
  return g_test_run ();
}
