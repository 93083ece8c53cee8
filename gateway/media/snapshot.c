/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Snapshots: one keyframe of a camera's fMP4 stream decoded to a JPEG.
 *
 * api-snapshot.c hands over the refcounted init segment and keyframe
 * fragment of one (camera, generation, keyframe sequence); a GTask worker
 * thread runs a short pipeline over exactly those bytes
 *
 *   appsrc ! qtdemux ! decodebin ! videoconvert ! jpegenc ! appsink
 *
 * and returns the first JPEG. decodebin picks the decoder from the init
 * segment (avdec_h264, avdec_h265), so whatever the camera sends decodes.
 * Nothing here touches gateway state: the worker only reads immutable GBytes.
 */
#define G_LOG_DOMAIN "hearth-snapshot"

#include "snapshot.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>

#include "error.h"

/* A keyframe decodes in milliseconds; this only bounds a wedged decoder. */
#define DECODE_TIMEOUT (5 * GST_SECOND)

static const char snapshot_description[] =
  "appsrc name=src format=bytes ! qtdemux ! decodebin ! videoconvert ! "
  "jpegenc quality=85 ! appsink name=sink sync=false";

typedef struct {
  GBytes *init;
  GBytes *keyframe;
} DecodeData;

static void
decode_data_free (DecodeData *data)
{
  g_bytes_unref (data->init);
  g_bytes_unref (data->keyframe);
  g_free (data);
}

/* The pipeline's error, if it posted one; else @fallback. */
static void
set_pipeline_error (GstElement *pipeline, const char *fallback, GError **error)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) message = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  g_autoptr (GError) gst_error = NULL;

  if (message != NULL)
    gst_message_parse_error (message, &gst_error, NULL);
  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
               "Cannot decode the keyframe: %s",
               gst_error != NULL ? gst_error->message : fallback);
}

/**
 * hearth_snapshot_decode:
 * @init: (transfer none): ftyp+moov of the keyframe's generation
 * @keyframe: (transfer none): moof+mdat starting with a sync sample
 *
 * Returns: (transfer full): the JPEG, or NULL
 */
GBytes *
hearth_snapshot_decode (GBytes *init, GBytes *keyframe,
                        GCancellable *cancellable, GError **error)
{
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) src = NULL;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstSample) sample = NULL;
  g_autoptr (GError) parse_error = NULL;
  GstBuffer *buffer;
  GstMapInfo map;
  GBytes *jpeg;

  g_return_val_if_fail (init != NULL && keyframe != NULL, NULL);

  pipeline = gst_parse_launch (snapshot_description, &parse_error);
  if (pipeline == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "Cannot build the snapshot pipeline: %s", parse_error->message);
    return NULL;
  }
  gst_object_ref_sink (pipeline);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (sink, "max-buffers", 1, NULL);

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    set_pipeline_error (pipeline, "the pipeline did not start", error);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    return NULL;
  }

  /* The init segment and the one fragment, then the end: the decoder drains
   * its single frame at EOS. */
  gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_new_wrapped_bytes (init));
  gst_app_src_push_buffer (GST_APP_SRC (src),
                           gst_buffer_new_wrapped_bytes (keyframe));
  gst_app_src_end_of_stream (GST_APP_SRC (src));

  if (!g_cancellable_is_cancelled (cancellable))
    sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), DECODE_TIMEOUT);
  if (sample == NULL) {
    if (!g_cancellable_set_error_if_cancelled (cancellable, error))
      set_pipeline_error (pipeline, "no picture came out", error);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    return NULL;
  }

  buffer = gst_sample_get_buffer (sample);
  if (buffer == NULL || !gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                         "Cannot read the encoded picture");
    gst_element_set_state (pipeline, GST_STATE_NULL);
    return NULL;
  }
  jpeg = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (buffer, &map);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return jpeg;
}

static void
decode_thread (GTask *task, gpointer source_object, gpointer task_data,
               GCancellable *cancellable)
{
  DecodeData *data = task_data;
  GError *error = NULL;
  GBytes *jpeg = hearth_snapshot_decode (data->init, data->keyframe,
                                         cancellable, &error);

  if (jpeg == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, jpeg, (GDestroyNotify) g_bytes_unref);
}

/**
 * hearth_snapshot_decode_async:
 * @init: (transfer none)
 * @keyframe: (transfer none)
 *
 * @callback runs on the caller's thread-default main context.
 */
void
hearth_snapshot_decode_async (GBytes *init, GBytes *keyframe,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  DecodeData *data = g_new0 (DecodeData, 1);

  data->init = g_bytes_ref (init);
  data->keyframe = g_bytes_ref (keyframe);
  g_task_set_source_tag (task, hearth_snapshot_decode_async);
  g_task_set_task_data (task, data, (GDestroyNotify) decode_data_free);
  g_task_run_in_thread (task, decode_thread);
}

GBytes *
hearth_snapshot_decode_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
