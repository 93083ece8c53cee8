/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What runs on a camera's ingest pipeline, for HearthCamera (camera.c):
 * rtspsrc's select-stream and pad-added, the probe that follows the video
 * into the muxer, and the appsink's wake-up.
 *
 * Video is passed through, never transcoded. For RTSP the codec is the
 * stream's: the depayloader and parser are chosen from the caps of rtspsrc's
 * pad (encoding-name H264 or H265) when it appears, and linked in front of a
 * capsfilter named "video" that leads to the muxer; that capsfilter's caps
 * are what hearth_camera_get_video_info() reports. H.265 goes into the MP4 as
 * hvc1 (parameter sets in the init segment's hvcC, and with
 * config-interval=-1 in-band before every keyframe too, as for H.264).
 *
 * Video that changes inside a run (invariant 6): a camera whose resolution
 * is changed in its settings (or whose codec changes without a new RTSP
 * session) sends new parameter sets with a keyframe, and the parser sends new
 * caps. mp4mux would take them and go on under the old init segment, which
 * then describes a picture the fragments no longer have. So a probe on the
 * pad that feeds the muxer (on_video_data(), on the streaming thread, touching
 * only the pipeline) catches caps of another media type, width or height
 * and replaces the muxer before they reach it: the old one is sent EOS (its
 * last fragment still comes out; its EOS does not reach the appsink) and
 * removed, a new one is linked in its place, and the caps, then the keyframe
 * that carried them, go to the new one. Nothing is lost and the RTSP session
 * goes on. The appsink sees a new ftyp+moov after fragments, and the main
 * context starts a new generation of the stream with that init segment
 * (camera.c, handle_sample()): readers of the old one end as on a
 * reconnect, and nothing of it is served after. A muxer with another input
 * besides the video (audio) is not replaced that way, since its other input
 * would have to be held too: that run stops passing data at the change and
 * is started again at once, without the error backoff (a new RTSP session;
 * frames until its first keyframe are lost). Other caps changes (new
 * parameter sets of the same size, framerate) stay in the generation: mp4mux
 * takes them, and the parameter sets go in-band before every keyframe
 * anyway. An RTSP camera that changes codec needs a new DESCRIBE, so it ends
 * the session: that run ends like any other, and the next run (after the
 * backoff) is a new generation whose codec is chosen afresh.
 *
 * Threads: select-stream runs on rtspsrc's thread, pad-added and the probes
 * on streaming threads; they touch only the pipeline's elements, never the
 * camera, and tell the main context through messages on the bus. The
 * appsink's streaming thread only wakes a GSource of the current run
 * (thread-safe g_source_set_ready_time).
 */
#define G_LOG_DOMAIN "hearth-camera"

#include "camera-pipeline.h"

#include "camera-audio.h"

/* How long a replaced muxer may take to hand over its last fragment. */
#define MUXER_DRAIN_TIMEOUT_US (G_USEC_PER_SEC)

/* Between rtspsrc's pad and the ingest bin, by the pad's encoding-name. */
static const HearthCameraHead rtsp_heads[] = {
  { "H264", "rtph264depay ! h264parse config-interval=-1 ! "
            "capsfilter caps=\"" H264_CAPS "\"" },
  { "H265", "rtph265depay ! h265parse config-interval=-1 ! "
            "capsfilter caps=\"" H265_CAPS "\"" },
};

/* ---- rtspsrc (its own and its streaming threads) ---- */

/* rtspsrc, on its own thread: set up video streams and AAC audio. */
static gboolean
on_select_stream (GstElement *src, guint num, GstCaps *caps,
                  gpointer user_data)
{
  GstElement *ingest = user_data;
  const GstStructure *s;
  const char *media;

  if (caps == NULL || gst_caps_get_size (caps) == 0)
    return FALSE;
  s = gst_caps_get_structure (caps, 0);
  media = gst_structure_get_string (s, "media");
  if (g_strcmp0 (media, "audio") == 0)
    return hearth_camera_audio_select (src, caps, ingest);
  return g_strcmp0 (media, "video") == 0;
}

/* rtspsrc, on a streaming thread: put the codec's head between the video
 * pad and the ingest bin. Touches only the pipeline, never the camera. */
static void
on_pad_added (GstElement *src, GstPad *pad, gpointer user_data)
{
  GstElement *ingest = user_data;
  g_autoptr(GstPad) sink = gst_element_get_static_pad (ingest, "sink");
  g_autoptr(GstCaps) caps = gst_pad_get_current_caps (pad);
  g_autoptr(GError) error = NULL;
  const GstStructure *s;
  const char *encoding;
  GstElement *head;

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  if (caps == NULL || gst_caps_get_size (caps) == 0)
    return;
  s = gst_caps_get_structure (caps, 0);
  if (g_strcmp0 (gst_structure_get_string (s, "media"), "audio") == 0) {
    hearth_camera_audio_link (src, pad, s, ingest);
    return;
  }
  if (g_strcmp0 (gst_structure_get_string (s, "media"), "video") != 0)
    return;

  /* The first video stream is the one we mux. */
  if (sink == NULL || gst_pad_is_linked (sink))
    return;

  encoding = gst_structure_get_string (s, "encoding-name");
  head = hearth_camera_make_head (rtsp_heads, G_N_ELEMENTS (rtsp_heads),
                                 encoding, &error);
  if (head == NULL) {
    if (error != NULL)
      GST_ELEMENT_ERROR (src, CORE, MISSING_PLUGIN,
                         ("Could not build the ingest for %s video: %s",
                          encoding, error->message), (NULL));
    else
      GST_ELEMENT_ERROR (src, STREAM, CODEC_NOT_FOUND,
                         ("The camera sends %s video; only H.264 and H.265 "
                          "are supported",
                          encoding != NULL ? encoding : "unknown"), (NULL));
    return;
  }

  if (!hearth_camera_link_head (ingest, head, pad, sink))
    GST_ELEMENT_ERROR (src, CORE, NEGOTIATION,
                       ("Could not link the camera's %s video stream",
                        encoding), (NULL));
}

void
hearth_camera_connect_rtspsrc (GstElement *src, GstElement *ingest)
{
  g_signal_connect_data (src, "select-stream",
                         G_CALLBACK (on_select_stream),
                         gst_object_ref (ingest),
                         (GClosureNotify) (void (*) (void)) gst_object_unref,
                         0);
  g_signal_connect_data (src, "pad-added", G_CALLBACK (on_pad_added),
                         gst_object_ref (ingest),
                         (GClosureNotify) (void (*) (void)) gst_object_unref,
                         0);
}

/* ---- video that changes inside a run (streaming threads) ---- */

/* What the probe on the muxer's video input keeps. No reference to the
 * bin: the probe's pad is inside it. */
typedef struct {
  gint stopped;        /* atomic: the run is being started again; pass
                        * nothing more */
  /* Only the probe's streaming thread touches these: */
  GstClockTime last_pts;
  GstClockTime last_dts;
} VideoWatch;

/*
 * mp4mux fails the whole run ("Could not multiplex stream") on a buffer
 * with no PTS or with a DTS that goes back, and a run that fails is a
 * reconnect and a new generation. A parser can emit such a buffer when the
 * RTP timestamps it derives them from are missing or jump (seen with
 * h265parse on a loaded machine). Cameras send no B-frames, so a missing
 * PTS is the DTS, or else the frame after the last one; a DTS that goes
 * back is held at the last one.
 */
static GstBuffer *
keep_timestamps_going (VideoWatch *watch, GstBuffer *buffer)
{
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  GstClockTime dts = GST_BUFFER_DTS (buffer);
  GstClockTime step = GST_BUFFER_DURATION_IS_VALID (buffer)
    ? GST_BUFFER_DURATION (buffer) : GST_MSECOND;

  if (!GST_CLOCK_TIME_IS_VALID (pts))
    pts = GST_CLOCK_TIME_IS_VALID (dts) ? dts
        : GST_CLOCK_TIME_IS_VALID (watch->last_pts) ? watch->last_pts + step
        : GST_CLOCK_TIME_NONE;
  if (GST_CLOCK_TIME_IS_VALID (dts) && GST_CLOCK_TIME_IS_VALID (watch->last_dts) &&
      dts < watch->last_dts)
    dts = watch->last_dts;
  if (pts != GST_BUFFER_PTS (buffer) || dts != GST_BUFFER_DTS (buffer)) {
    buffer = gst_buffer_make_writable (buffer);
    GST_BUFFER_PTS (buffer) = pts;
    GST_BUFFER_DTS (buffer) = dts;
  }
  if (GST_CLOCK_TIME_IS_VALID (pts))
    watch->last_pts = pts;
  if (GST_CLOCK_TIME_IS_VALID (dts))
    watch->last_dts = dts;
  return buffer;
}

static gboolean
keep_list_timestamps_going (GstBuffer **buffer, guint idx, gpointer user_data)
{
  *buffer = keep_timestamps_going (user_data, *buffer);
  return TRUE;
}

/* Same media type, width and height: the same init segment still fits. */
static gboolean
same_picture (GstCaps *a, GstCaps *b)
{
  const GstStructure *x, *y;
  int xw = 0, xh = 0, yw = 0, yh = 0;

  if (gst_caps_get_size (a) == 0 || gst_caps_get_size (b) == 0)
    return FALSE;
  x = gst_caps_get_structure (a, 0);
  y = gst_caps_get_structure (b, 0);
  gst_structure_get_int (x, "width", &xw);
  gst_structure_get_int (x, "height", &xh);
  gst_structure_get_int (y, "width", &yw);
  gst_structure_get_int (y, "height", &yh);
  return gst_structure_has_name (y, gst_structure_get_name (x)) &&
         xw == yw && xh == yh;
}

typedef struct {
  GMutex lock;
  GCond cond;
  gboolean eos;        /* protected by lock */
} MuxerDrain;

/* The replaced muxer's thread: its EOS is the end of its output, and goes
 * no further (the appsink stays open for the new muxer). */
static GstPadProbeReturn
on_old_muxer_output (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  MuxerDrain *drain = user_data;

  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) != GST_EVENT_EOS)
    return GST_PAD_PROBE_OK;
  g_mutex_lock (&drain->lock);
  drain->eos = TRUE;
  g_cond_signal (&drain->cond);
  g_mutex_unlock (&drain->lock);
  return GST_PAD_PROBE_DROP;
}

/*
 * Replaces the muxer that @video_pad feeds (through @old_sink) with a new
 * one in the same bin, after the old one wrote out what it holds. FALSE,
 * leaving the old one in place, if the muxer has other inputs.
 */
static gboolean
replace_muxer (GstPad *video_pad, GstPad *old_sink)
{
  g_autoptr(GstElement) old = gst_pad_get_parent_element (old_sink);
  g_autoptr(GstObject) ingest = old != NULL ? gst_object_get_parent (GST_OBJECT (old)) : NULL;
  g_autoptr(GstElement) appsink = GST_IS_BIN (ingest)
    ? gst_bin_get_by_name (GST_BIN (ingest), "sink") : NULL;
  g_autoptr(GstPad) old_src = NULL;
  g_autoptr(GstPad) appsink_pad = NULL;
  g_autoptr(GstPad) new_sink = NULL;
  g_autoptr(GstPad) new_src = NULL;
  g_autoptr(GError) error = NULL;
  MuxerDrain drain = { .eos = FALSE };
  gint64 deadline = g_get_monotonic_time () + MUXER_DRAIN_TIMEOUT_US;
  GstElement *mux;
  gulong probe;
  guint16 n_inputs;

  if (old == NULL || appsink == NULL)
    return FALSE;
  GST_OBJECT_LOCK (old);
  n_inputs = old->numsinkpads;
  GST_OBJECT_UNLOCK (old);
  if (n_inputs != 1)
    return FALSE;
  old_src = gst_element_get_static_pad (old, "src");
  appsink_pad = gst_element_get_static_pad (appsink, "sink");

  g_mutex_init (&drain.lock);
  g_cond_init (&drain.cond);
  probe = gst_pad_add_probe (old_src, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                             on_old_muxer_output, &drain, NULL);
  gst_pad_send_event (old_sink, gst_event_new_eos ());
  g_mutex_lock (&drain.lock);
  while (!drain.eos && g_cond_wait_until (&drain.cond, &drain.lock, deadline))
    ;
  g_mutex_unlock (&drain.lock);
  /* Joins its thread: the probe cannot run after this. */
  gst_element_set_locked_state (old, TRUE);
  gst_element_set_state (old, GST_STATE_NULL);
  gst_pad_remove_probe (old_src, probe);
  g_mutex_clear (&drain.lock);
  g_cond_clear (&drain.cond);

  gst_pad_unlink (video_pad, old_sink);
  gst_pad_unlink (old_src, appsink_pad);
  gst_element_release_request_pad (old, old_sink);
  gst_bin_remove (GST_BIN (ingest), old);

  mux = gst_parse_launch (MUXER_DESCRIPTION, &error);
  if (mux == NULL || !gst_bin_add (GST_BIN (ingest), mux)) {
    GST_ELEMENT_ERROR (GST_ELEMENT (ingest), CORE, FAILED,
                       ("Could not make a new muxer: %s",
                        error != NULL ? error->message : "not added"), (NULL));
    return TRUE;
  }
  new_src = gst_element_get_static_pad (mux, "src");
  new_sink = gst_element_request_pad_simple (mux, "video_%u");
  if (new_sink == NULL ||
      GST_PAD_LINK_FAILED (gst_pad_link (new_src, appsink_pad)) ||
      GST_PAD_LINK_FAILED (gst_pad_link (video_pad, new_sink)) ||
      !gst_element_sync_state_with_parent (mux))
    GST_ELEMENT_ERROR (GST_ELEMENT (ingest), CORE, NEGOTIATION,
                       ("Could not link a new muxer"), (NULL));
  return TRUE;
}

/*
 * On the streaming thread of the pad that feeds the muxer's video input:
 * caps of another picture replace the muxer (or, where it cannot be, stop
 * the run's data and ask the main context to start it again). Touches only
 * the pipeline.
 */
static GstPadProbeReturn
on_video_data (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  VideoWatch *watch = user_data;
  g_autoptr(GstPad) peer = NULL;
  g_autoptr(GstCaps) current = NULL;
  GstEvent *event;
  GstCaps *caps;

  if (g_atomic_int_get (&watch->stopped))
    return GST_PAD_PROBE_DROP;
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    info->data = keep_timestamps_going (watch, GST_PAD_PROBE_INFO_BUFFER (info));
    return GST_PAD_PROBE_OK;
  }
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = gst_buffer_list_make_writable (GST_PAD_PROBE_INFO_BUFFER_LIST (info));

    gst_buffer_list_foreach (list, keep_list_timestamps_going, watch);
    info->data = list;
    return GST_PAD_PROBE_OK;
  }
  if (!(GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM))
    return GST_PAD_PROBE_OK;
  event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;

  gst_event_parse_caps (event, &caps);
  peer = gst_pad_get_peer (pad);
  if (peer != NULL)
    current = gst_pad_get_current_caps (peer);
  if (current == NULL || same_picture (current, caps))
    return GST_PAD_PROBE_OK;

  /*
   * Dropped here, the caps stay the pad's sticky caps and go to the new
   * muxer, after the stream-start, before the next buffer: the keyframe
   * that carried the new parameter sets.
   */
  if (replace_muxer (pad, peer))
    return GST_PAD_PROBE_DROP;

  g_atomic_int_set (&watch->stopped, TRUE);
  gst_element_post_message (GST_PAD_PARENT (pad),
                            gst_message_new_application (
                              GST_OBJECT (GST_PAD_PARENT (pad)),
                              gst_structure_new_empty (VIDEO_CHANGED_MESSAGE)));
  return GST_PAD_PROBE_DROP;
}

static VideoWatch *
video_watch_new (void)
{
  VideoWatch *watch = g_new0 (VideoWatch, 1);

  watch->last_pts = GST_CLOCK_TIME_NONE;
  watch->last_dts = GST_CLOCK_TIME_NONE;
  return watch;
}

/* Watches what goes into the muxer's video input, from the start. */
void
hearth_camera_watch_video (GstElement *ingest)
{
  g_autoptr(GstElement) mux = gst_bin_get_by_name (GST_BIN (ingest), "mux");
  g_autoptr(GstIterator) it = NULL;
  GValue item = G_VALUE_INIT;

  if (mux == NULL)
    return;
  it = gst_element_iterate_sink_pads (mux);
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstPad *sink = g_value_get_object (&item);
    g_autoptr(GstPad) feed = gst_pad_get_peer (sink);

    if (feed != NULL && g_str_has_prefix (GST_PAD_NAME (sink), "video_"))
      gst_pad_add_probe (feed, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
                         GST_PAD_PROBE_TYPE_BUFFER |
                         GST_PAD_PROBE_TYPE_BUFFER_LIST,
                         on_video_data, video_watch_new (), g_free);
    g_value_reset (&item);
  }
  g_value_unset (&item);
}

/* ---- the appsink's streaming thread ---- */

/* appsink, on the streaming thread: wake the run's source, touch nothing
 * else. The callbacks hold a reference on the source. */
GstFlowReturn
hearth_camera_on_new_sample (GstAppSink *sink, gpointer user_data)
{
  g_source_set_ready_time (user_data, 0);
  return GST_FLOW_OK;
}

static gboolean
wake_source_dispatch (GSource *source, GSourceFunc callback,
                      gpointer user_data)
{
  /* Reset first: a sample that arrives from now on wakes us again. */
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

const GSourceFuncs hearth_camera_wake_source_funcs = {
  .dispatch = wake_source_dispatch,
};
