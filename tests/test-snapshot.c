/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for snapshots and what they are cut from: a real keyframe, muxed by
 * the same mp4mux settings as the ingest, decodes to a JPEG of the right
 * picture; HearthStream keeps the latest keyframe of the current generation
 * only (also when its GOP outgrew the cache) and forgets it when the
 * generation ends; the stream's stats count frames and keyframe intervals.
 */
#include <string.h>

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>

#include "error.h"
#include "fmp4.h"
#include "snapshot.h"
#include "stream.h"

#define CAMERA_ID "6f1c2a4e-2222-4c3b-9a7e-000000000002"

/* Init segment and first (key) fragment of a few frames of @pattern, in
 * @codec ("h264" or "h265", muxed as the gateway does: avc1 or hvc1). */
static void
make_keyframe_for (const char *codec, const char *pattern, GBytes **init,
                   GBytes **keyframe)
{
  const char *encoder = g_str_equal (codec, "h265")
      ? "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! "
        "h265parse ! video/x-h265,stream-format=hvc1,alignment=au"
      : "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! "
        "h264parse ! video/x-h264,stream-format=avc,alignment=au";
  g_autofree char *description = g_strdup_printf (
      "videotestsrc pattern=%s num-buffers=3 ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! %s ! "
      "mp4mux fragment-duration=1 streamable=true ! appsink name=sink sync=false",
      pattern, encoder);
  g_autoptr (GstElement) pipeline = gst_parse_launch (description, NULL);
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_autoptr (HearthFmp4Splitter) splitter = hearth_fmp4_splitter_new ();
  GstSample *sample;

  *init = *keyframe = NULL;
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while (*keyframe == NULL &&
         (sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    GstMapInfo map;
    HearthFmp4Kind kind;
    GBytes *bytes;
    gboolean key;

    g_assert_true (gst_buffer_map (buffer, &map, GST_MAP_READ));
    g_assert_true (hearth_fmp4_splitter_push (splitter, map.data, map.size, NULL));
    gst_buffer_unmap (buffer, &map);
    gst_sample_unref (sample);
    while (hearth_fmp4_splitter_pop (splitter, &kind, &bytes, &key)) {
      if (kind == HEARTH_FMP4_INIT && *init == NULL)
        *init = bytes;
      else if (kind == HEARTH_FMP4_FRAGMENT && key && *keyframe == NULL)
        *keyframe = bytes;
      else
        g_bytes_unref (bytes);
    }
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_assert_nonnull (*init);
  g_assert_nonnull (*keyframe);
}

static void
make_keyframe (const char *pattern, GBytes **init, GBytes **keyframe)
{
  make_keyframe_for ("h264", pattern, init, keyframe);
}

/* The average colour of a JPEG, decoded by GStreamer. */
static void
average_rgb (GBytes *jpeg, guint rgb[3])
{
  g_autoptr (GstElement) pipeline = gst_parse_launch (
      "appsrc name=src ! jpegdec ! videoconvert ! videoscale ! "
      "video/x-raw,format=RGB,width=1,height=1 ! appsink name=sink", NULL);
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_autoptr (GstSample) sample = NULL;
  g_autoptr (GstCaps) caps = gst_caps_new_empty_simple ("image/jpeg");
  GstMapInfo map;

  g_object_set (src, "caps", caps, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_new_wrapped_bytes (jpeg));
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
  g_assert_nonnull (sample);
  g_assert_true (gst_buffer_map (gst_sample_get_buffer (sample), &map, GST_MAP_READ));
  for (guint i = 0; i < 3; i++)
    rgb[i] = map.data[i];
  gst_buffer_unmap (gst_sample_get_buffer (sample), &map);
  gst_element_set_state (pipeline, GST_STATE_NULL);
}

static void
test_decode (void)
{
  g_autoptr (GBytes) init = NULL;
  g_autoptr (GBytes) keyframe = NULL;
  g_autoptr (GBytes) jpeg = NULL;
  g_autoptr (GError) error = NULL;
  const guint8 *data;
  gsize size;
  guint rgb[3];

  make_keyframe ("blue", &init, &keyframe);
  jpeg = hearth_snapshot_decode (init, keyframe, NULL, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (jpeg, &size);
  g_assert_cmpuint (size, >, 4);
  g_assert_cmpuint (data[0], ==, 0xff);
  g_assert_cmpuint (data[1], ==, 0xd8);
  average_rgb (jpeg, rgb);
  g_assert_cmpuint (rgb[2], >, 150);
  g_assert_cmpuint (rgb[0], <, 80);
  g_assert_cmpuint (rgb[1], <, 80);
}

/* An H.265 keyframe decodes too (decodebin picks avdec_h265), to a JPEG of
 * the camera's size and colour. */
static void
test_decode_hevc (void)
{
  g_autoptr (GBytes) init = NULL;
  g_autoptr (GBytes) keyframe = NULL;
  g_autoptr (GBytes) jpeg = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GstCaps) caps = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) src = NULL;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstSample) sample = NULL;
  const GstStructure *s;
  int width = 0, height = 0;
  const guint8 *data;
  gsize size;
  guint rgb[3];

  make_keyframe_for ("h265", "red", &init, &keyframe);
  jpeg = hearth_snapshot_decode (init, keyframe, NULL, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (jpeg, &size);
  g_assert_cmpuint (size, >, 4);
  g_assert_cmpuint (data[0], ==, 0xff);
  g_assert_cmpuint (data[1], ==, 0xd8);
  average_rgb (jpeg, rgb);
  g_assert_cmpuint (rgb[0], >, 150);
  g_assert_cmpuint (rgb[1], <, 80);
  g_assert_cmpuint (rgb[2], <, 80);

  /* Its size, as a JPEG parser reads it. */
  pipeline = gst_parse_launch ("appsrc name=src ! jpegparse ! "
                               "appsink name=sink sync=false", NULL);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  caps = gst_caps_new_empty_simple ("image/jpeg");
  g_object_set (src, "caps", caps, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_new_wrapped_bytes (jpeg));
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 5 * GST_SECOND);
  g_assert_nonnull (sample);
  s = gst_caps_get_structure (gst_sample_get_caps (sample), 0);
  g_assert_true (gst_structure_get_int (s, "width", &width));
  g_assert_true (gst_structure_get_int (s, "height", &height));
  g_assert_cmpint (width, ==, 320);
  g_assert_cmpint (height, ==, 240);
  gst_element_set_state (pipeline, GST_STATE_NULL);
}

static void
test_decode_garbage (void)
{
  g_autoptr (GBytes) init = g_bytes_new_static ("not an mp4", 10);
  g_autoptr (GBytes) jpeg = NULL;
  g_autoptr (GError) error = NULL;

  jpeg = hearth_snapshot_decode (init, init, NULL, &error);
  g_assert_null (jpeg);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA);
}

static GBytes *
fake_fragment (gsize size)
{
  return g_bytes_new_take (g_malloc0 (size), size);
}

static void
test_latest_keyframe (void)
{
  g_autoptr (HearthStream) stream = hearth_stream_new (CAMERA_ID, 1000);
  g_autoptr (GBytes) init = fake_fragment (10);
  g_autoptr (GBytes) key = fake_fragment (400);
  g_autoptr (GBytes) big = fake_fragment (900);
  g_autoptr (HearthChunk) init_chunk = NULL;
  g_autoptr (HearthChunk) key_chunk = NULL;
  HearthStreamStats stats;
  guint64 generation = hearth_stream_begin_generation (stream);

  g_assert_false (hearth_stream_ref_latest_keyframe (stream, &init_chunk, &key_chunk));
  g_assert_true (hearth_stream_push_init (stream, generation, init));
  g_assert_true (hearth_stream_push_fragment (stream, generation, key, TRUE));
  /* The GOP outgrows the cache; the keyframe is still there for snapshots. */
  g_assert_true (hearth_stream_push_fragment (stream, generation, big, FALSE));
  g_assert_true (hearth_stream_ref_latest_keyframe (stream, &init_chunk, &key_chunk));
  g_assert_true (hearth_chunk_get_bytes (key_chunk) == key);
  g_assert_true (hearth_chunk_get_bytes (init_chunk) == init);
  g_assert_cmpstr (hearth_chunk_get_camera_id (key_chunk), ==, CAMERA_ID);
  g_assert_cmpuint (hearth_chunk_get_generation (key_chunk), ==, generation);
  g_clear_pointer (&init_chunk, hearth_chunk_unref);
  g_clear_pointer (&key_chunk, hearth_chunk_unref);

  for (guint i = 0; i < 4; i++)
    hearth_stream_push_fragment (stream, generation, key, i % 2 == 0);
  hearth_stream_get_stats (stream, &stats);
  g_assert_cmpuint (stats.frames, ==, 6);
  g_assert_cmpuint (stats.keyframe_interval, ==, 2);
  g_assert_cmpuint (stats.generation, ==, generation);

  /* A new generation forgets the old keyframe and the stats. */
  generation = hearth_stream_begin_generation (stream);
  g_assert_false (hearth_stream_ref_latest_keyframe (stream, &init_chunk, &key_chunk));
  g_assert_null (key_chunk);
  hearth_stream_get_stats (stream, &stats);
  g_assert_cmpuint (stats.frames, ==, 0);
  g_assert_cmpuint (stats.generation, ==, generation);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/hearth/snapshot/decode", test_decode);
  g_test_add_func ("/hearth/snapshot/decode-hevc", test_decode_hevc);
  g_test_add_func ("/hearth/snapshot/decode-garbage", test_decode_garbage);
  g_test_add_func ("/hearth/snapshot/latest-keyframe", test_latest_keyframe);
  return g_test_run ();
}
