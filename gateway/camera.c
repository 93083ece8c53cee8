/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthCamera: one adopted camera's ingest and its state machine.
 *
 * The daemon creates a camera per adopted camera and starts it. Each run
 * builds a GStreamer pipeline that ends in mp4mux (fragmented, one fragment
 * per frame) and an appsink:
 *
 *   rtsp://, rtsps://  rtspsrc ! rtph264depay ! h264parse ! mp4mux ! appsink
 *   synthetic:[pattern=NAME]  videotestsrc ! timeoverlay ! x264enc ! h264parse
 *                      ! mp4mux ! appsink   (the --demo camera)
 *
 * and begins a new generation of the camera's HearthStream. The pipeline is
 * built from constant descriptions plus properties: a URL never becomes part
 * of a launch line, and its credentials go to rtspsrc's user-id/user-pw, never
 * into a log or an error message.
 *
 * Threads: everything here runs on the GMainContext the camera was created
 * on. The appsink's streaming thread only wakes a GSource of the current run
 * (thread-safe g_source_set_ready_time); the main context then pulls the
 * samples, cuts them with HearthFmp4Splitter and pushes the pieces into the
 * stream. The appsink's bounded queue is the back-pressure if the main
 * context falls behind. The bus is watched on the same context.
 *
 * States: CONNECTING after each (re)start, STREAMING once the run's first
 * keyframe reached the stream, OFFLINE after an error, EOS, a stall (no
 * sample for 5 s) or no video within 20 s; then a retry after a backoff that
 * doubles from min_ms to max_ms and starts over after 10 s of streaming.
 * STOPPED after hearth_camera_stop().
 */
#define G_LOG_DOMAIN "hearth-camera"

#include <string.h>

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include "camera.h"
#include "error.h"
#include "netaddr.h"
#include "fmp4.h"

#define DEFAULT_BACKOFF_MIN_MS 500
#define DEFAULT_BACKOFF_MAX_MS 30000
#define GOP_CACHE_MAX_BYTES (8 * 1024 * 1024)
#define STALL_TIMEOUT_US (5 * G_USEC_PER_SEC)
#define CONNECT_TIMEOUT_US (20 * G_USEC_PER_SEC)
#define BACKOFF_RESET_US (10 * G_USEC_PER_SEC)
#define WATCHDOG_INTERVAL_MS 500
/* mp4mux pushes a few buffers per frame: about two seconds of video. */
#define APPSINK_MAX_BUFFERS 200
/* Samples handled per wake-up before yielding to other sources. */
#define MAX_SAMPLES_PER_DISPATCH 64
#define RTSP_LATENCY_MS 100

/*
 * Constant pipeline descriptions; nothing from a URL is ever formatted into
 * them. streamable=true is deprecated in 1.22 but still decides the mode:
 * without it mp4mux keeps an mfra index entry per keyframe for ever, which a
 * live stream that never ends cannot afford. (The deprecation warning only
 * shows with G_ENABLE_DIAGNOSTIC=1.) fragment-duration=1 (ms) is shorter than
 * any frame, so every frame is its own moof+mdat and keyframes start theirs.
 */
static const char rtsp_ingest_description[] =
  "rtph264depay name=depay ! h264parse name=parse config-interval=-1 ! "
  "video/x-h264,stream-format=avc,alignment=au ! "
  "mp4mux name=mux fragment-duration=1 streamable=true ! appsink name=sink";

static const char synthetic_description[] =
  "videotestsrc name=src is-live=true pattern=ball ! "
  "video/x-raw,width=640,height=360,framerate=30/1 ! timeoverlay ! "
  "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 "
  "bitrate=1000 ! h264parse name=parse ! "
  "video/x-h264,stream-format=avc,alignment=au ! "
  "mp4mux name=mux fragment-duration=1 streamable=true ! appsink name=sink";

enum {
  SIGNAL_STATE_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

struct _HearthCamera {
  GObject parent_instance;

  char *id;
  char *url;              /* may hold credentials: never logged */
  char *safe_url;         /* for people: credentials redacted */
  GMainContext *context;  /* the camera lives here; all its sources too */
  HearthStream *stream;

  guint backoff_min_ms;
  guint backoff_max_ms;
  guint backoff_ms;       /* the next retry's delay */

  HearthCameraState state;
  char *last_error;       /* (nullable) redacted */
  gboolean running;       /* between start and stop */
  char *logged_error;     /* (nullable) the failure already logged */

  /* The current run; all NULL while there is none. */
  GstElement *pipeline;
  GstElement *appsink;
  GstElement *parse;
  GSource *bus_source;
  GSource *wake_source;   /* woken by the streaming thread */
  GSource *watchdog_source;
  HearthFmp4Splitter *splitter;
  guint64 generation;     /* of the stream, for this run */
  gint64 started_us;
  gint64 streaming_since_us;
  gint64 last_sample_us;

  GSource *retry_source;  /* (nullable) */

  gboolean have_video_info;
  const char *codec;      /* static string */
  int width;
  int height;
  double fps;
};

G_DEFINE_TYPE (HearthCamera, hearth_camera, G_TYPE_OBJECT)

static void start_run (HearthCamera *self);

/* ---- credentials ---- */

/* Redacts URLs, and the camera's password wherever it appears in @text. */
static char *
redact_for_camera (HearthCamera *self, const char *text)
{
  g_autofree char *redacted = hearth_url_redact (text);
  GString *out = g_string_new (redacted);
  /* The password as written in the URL, and percent-decoded. */
  const GUriFlags flags[] = {
    G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED,
    G_URI_FLAGS_HAS_PASSWORD,
  };

  for (guint i = 0; i < G_N_ELEMENTS (flags); i++) {
    g_autoptr(GUri) uri = g_uri_parse (self->url, flags[i], NULL);
    const char *password = uri != NULL ? g_uri_get_password (uri) : NULL;

    if (password != NULL && password[0] != '\0')
      g_string_replace (out, password, "***", 0);
  }
  return g_string_free (out, FALSE);
}

/*
 * Splits an rtsp(s):// URL into what rtspsrc gets: the location without user
 * information, and the user and password (decoded) as properties.
 */
static gboolean
parse_rtsp_url (const char *url, char **location, char **user,
                char **password, GError **error)
{
  const GUriFlags keep = G_URI_FLAGS_ENCODED_PATH | G_URI_FLAGS_ENCODED_QUERY |
                         G_URI_FLAGS_ENCODED_FRAGMENT;
  g_autoptr(GUri) uri = NULL;
  const char *scheme, *host;

  /* GLib's message may quote the URL: say it ourselves instead. */
  uri = g_uri_parse (url, G_URI_FLAGS_HAS_PASSWORD | keep, NULL);
  if (uri == NULL) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "The camera URL is not a valid URL");
    return FALSE;
  }

  scheme = g_uri_get_scheme (uri);
  host = g_uri_get_host (uri);
  if (g_ascii_strcasecmp (scheme, "rtsp") != 0 &&
      g_ascii_strcasecmp (scheme, "rtsps") != 0) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "The camera URL is not rtsp:// or rtsps://");
    return FALSE;
  }
  if (host == NULL || host[0] == '\0') {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "The camera URL has no host");
    return FALSE;
  }

  *location = g_uri_join (keep, scheme, NULL, host, g_uri_get_port (uri),
                          g_uri_get_path (uri), g_uri_get_query (uri),
                          g_uri_get_fragment (uri));
  *user = g_strdup (g_uri_get_user (uri));
  *password = g_strdup (g_uri_get_password (uri));
  return TRUE;
}

/* ---- pipelines ---- */

/* rtspsrc, on its own thread: set up video streams only. */
static gboolean
on_rtsp_select_stream (GstElement *src, guint num, GstCaps *caps,
                       gpointer user_data)
{
  const GstStructure *s;

  if (caps == NULL || gst_caps_get_size (caps) == 0)
    return FALSE;
  s = gst_caps_get_structure (caps, 0);
  return g_strcmp0 (gst_structure_get_string (s, "media"), "video") == 0;
}

/* rtspsrc, on a streaming thread: link the video pad to the ingest bin.
 * Touches only the pipeline, never the camera. */
static void
on_rtsp_pad_added (GstElement *src, GstPad *pad, gpointer user_data)
{
  GstElement *ingest = user_data;
  g_autoptr(GstPad) sink = gst_element_get_static_pad (ingest, "sink");
  g_autoptr(GstCaps) caps = gst_pad_get_current_caps (pad);
  const GstStructure *s;
  const char *encoding;

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  if (caps == NULL || gst_caps_get_size (caps) == 0)
    return;
  s = gst_caps_get_structure (caps, 0);
  if (g_strcmp0 (gst_structure_get_string (s, "media"), "video") != 0)
    return;

  encoding = gst_structure_get_string (s, "encoding-name");
  if (encoding == NULL || g_ascii_strcasecmp (encoding, "H264") != 0) {
    GST_ELEMENT_ERROR (src, STREAM, CODEC_NOT_FOUND,
                       ("The camera sends %s video; only H.264 is supported",
                        encoding != NULL ? encoding : "unknown"), (NULL));
    return;
  }

  /* The first video stream is the one we mux. */
  if (sink == NULL || gst_pad_is_linked (sink))
    return;
  if (GST_PAD_LINK_FAILED (gst_pad_link (pad, sink)))
    GST_ELEMENT_ERROR (src, CORE, NEGOTIATION,
                       ("Could not link the camera's video stream"), (NULL));
}

static GstElement *
build_rtsp_pipeline (HearthCamera *self, GError **error)
{
  g_autoptr(GstElement) pipeline = NULL;
  g_autofree char *location = NULL;
  g_autofree char *user = NULL;
  g_autofree char *password = NULL;
  GstElement *src, *ingest;
  GError *parse_error = NULL;

  if (!parse_rtsp_url (self->url, &location, &user, &password, error))
    return NULL;

  src = gst_element_factory_make ("rtspsrc", NULL);
  if (src == NULL) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                         "GStreamer has no rtspsrc element "
                         "(gstreamer1.0-plugins-good)");
    return NULL;
  }

  pipeline = gst_object_ref_sink (gst_pipeline_new (NULL));
  gst_bin_add (GST_BIN (pipeline), src);

  g_object_set (src,
                "location", location,
                "latency", (guint) RTSP_LATENCY_MS,
                "do-rtcp", TRUE,
                NULL);
  gst_util_set_object_arg (G_OBJECT (src), "protocols", "tcp");
  if (user != NULL)
    g_object_set (src, "user-id", user, NULL);
  if (password != NULL)
    g_object_set (src, "user-pw", password, NULL);

  ingest = gst_parse_bin_from_description_full (rtsp_ingest_description, TRUE,
                                                NULL,
                                                GST_PARSE_FLAG_FATAL_ERRORS,
                                                &parse_error);
  if (ingest == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "Could not build the ingest pipeline: %s",
                 parse_error->message);
    g_error_free (parse_error);
    return NULL;
  }
  gst_bin_add (GST_BIN (pipeline), ingest);

  g_signal_connect (src, "select-stream",
                    G_CALLBACK (on_rtsp_select_stream), NULL);
  g_signal_connect_data (src, "pad-added", G_CALLBACK (on_rtsp_pad_added),
                         gst_object_ref (ingest),
                         (GClosureNotify) (void (*) (void)) gst_object_unref,
                         0);

  return g_steal_pointer (&pipeline);
}

/* Applies "synthetic:key=value&…" options. */
static gboolean
configure_synthetic (GstElement *pipeline, const char *options,
                     GError **error)
{
  g_auto(GStrv) pairs = NULL;
  g_autoptr(GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline), "src");

  if (options[0] == '\0')
    return TRUE;

  pairs = g_strsplit (options, "&", 0);
  for (guint i = 0; pairs[i] != NULL; i++) {
    const char *eq = strchr (pairs[i], '=');
    g_autofree char *key = NULL;
    const char *value;

    if (pairs[i][0] == '\0')
      continue;
    if (eq == NULL) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "Synthetic camera option \"%s\" has no value", pairs[i]);
      return FALSE;
    }
    key = g_strndup (pairs[i], eq - pairs[i]);
    value = eq + 1;

    if (g_strcmp0 (key, "pattern") == 0) {
      GParamSpec *pspec =
        g_object_class_find_property (G_OBJECT_GET_CLASS (src), "pattern");
      GEnumClass *enum_class;

      if (pspec == NULL || !G_IS_PARAM_SPEC_ENUM (pspec)) {
        g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                             "videotestsrc has no pattern property");
        return FALSE;
      }
      enum_class = G_PARAM_SPEC_ENUM (pspec)->enum_class;
      if (g_enum_get_value_by_nick (enum_class, value) == NULL) {
        g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                     "Unknown synthetic camera pattern \"%s\"", value);
        return FALSE;
      }
      gst_util_set_object_arg (G_OBJECT (src), "pattern", value);
    } else {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "Unknown synthetic camera option \"%s\"", key);
      return FALSE;
    }
  }
  return TRUE;
}

static GstElement *
build_synthetic_pipeline (const char *options, GError **error)
{
  g_autoptr(GstElement) pipeline = NULL;
  GError *parse_error = NULL;

  pipeline = gst_parse_launch_full (synthetic_description, NULL,
                                    GST_PARSE_FLAG_FATAL_ERRORS,
                                    &parse_error);
  if (pipeline == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "Could not build the synthetic camera pipeline: %s",
                 parse_error->message);
    g_error_free (parse_error);
    return NULL;
  }
  gst_object_ref_sink (pipeline);

  if (!configure_synthetic (pipeline, options, error))
    return NULL;

  return g_steal_pointer (&pipeline);
}

static gboolean
has_prefix_nocase (const char *s, const char *prefix)
{
  return g_ascii_strncasecmp (s, prefix, strlen (prefix)) == 0;
}

/* Returns NULL with HEARTH_ERROR_INVALID for a URL no retry can fix. */
static GstElement *
build_pipeline (HearthCamera *self, GError **error)
{
  if (has_prefix_nocase (self->url, "synthetic:"))
    return build_synthetic_pipeline (self->url + strlen ("synthetic:"), error);
  if (has_prefix_nocase (self->url, "rtsp://") ||
      has_prefix_nocase (self->url, "rtsps://"))
    return build_rtsp_pipeline (self, error);

  g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                       "The camera URL is not rtsp://, rtsps:// or "
                       "synthetic:");
  return NULL;
}

/* ---- the streaming thread's only entry ---- */

/* appsink, on the streaming thread: wake the run's source, touch nothing
 * else. The callbacks hold a reference on the source. */
static GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer user_data)
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

static const GSourceFuncs wake_source_funcs = {
  .dispatch = wake_source_dispatch,
};

/* ---- state ---- */

static void
set_state (HearthCamera *self, HearthCameraState state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, (guint) state);
}

static void
destroy_source (GSource **source)
{
  if (*source != NULL) {
    g_source_destroy (*source);
    g_clear_pointer (source, g_source_unref);
  }
}

static void
clear_video_info (HearthCamera *self)
{
  self->have_video_info = FALSE;
  self->codec = NULL;
  self->width = self->height = 0;
  self->fps = 0.0;
}

/* Stops and drops the current run's pipeline; no callback of it runs after. */
static void
teardown_run (HearthCamera *self)
{
  destroy_source (&self->watchdog_source);
  destroy_source (&self->bus_source);

  if (self->pipeline != NULL) {
    /* Joins the streaming threads: no wake-up can come after this. */
    gst_element_set_state (self->pipeline, GST_STATE_NULL);
  }
  destroy_source (&self->wake_source);

  gst_clear_object (&self->appsink);
  gst_clear_object (&self->parse);
  gst_clear_object (&self->pipeline);
  g_clear_pointer (&self->splitter, hearth_fmp4_splitter_free);
  clear_video_info (self);
}

static gboolean
run_is_current (HearthCamera *self, guint64 generation)
{
  return self->pipeline != NULL && self->generation == generation;
}

static gboolean
on_retry (gpointer user_data)
{
  HearthCamera *self = user_data;

  g_clear_pointer (&self->retry_source, g_source_unref);
  if (self->running)
    start_run (self);
  return G_SOURCE_REMOVE;
}

/*
 * Ends the current run with @reason (for people): the stream's generation
 * ends with it, so nothing of this run is served any more. With @retry, a
 * new run starts after the backoff.
 */
static void
fail_run (HearthCamera *self, const char *reason, gboolean retry)
{
  g_autofree char *safe_reason = redact_for_camera (self, reason);
  gint64 now = g_get_monotonic_time ();

  g_object_ref (self);

  if (self->state == HEARTH_CAMERA_STREAMING &&
      now - self->streaming_since_us >= BACKOFF_RESET_US)
    self->backoff_ms = self->backoff_min_ms;

  teardown_run (self);
  g_free (self->last_error);
  self->last_error = g_strdup (safe_reason);

  /* A camera that keeps failing the same way is logged once, not once per
   * retry; the next success is logged too. */
  if (g_strcmp0 (self->logged_error, safe_reason) != 0) {
    g_message ("Camera %s (%s) is offline%s: %s", self->id, self->safe_url,
               retry ? ", retrying with backoff" : "", safe_reason);
    g_free (self->logged_error);
    self->logged_error = g_strdup (safe_reason);
  } else {
    g_debug ("Camera %s: still offline: %s", self->id, safe_reason);
  }

  /* Subscribers of this run may react by stopping or dropping us. */
  hearth_stream_end (self->stream);

  if (self->running && retry && self->retry_source == NULL) {
    self->retry_source = g_timeout_source_new (self->backoff_ms);
    g_source_set_callback (self->retry_source, on_retry, self, NULL);
    g_source_attach (self->retry_source, self->context);
    g_debug ("Camera %s: retrying in %u ms", self->id, self->backoff_ms);
    self->backoff_ms = MIN (self->backoff_ms * 2, self->backoff_max_ms);
  }

  if (self->running)
    set_state (self, HEARTH_CAMERA_OFFLINE);

  g_object_unref (self);
}

static void
read_video_info (HearthCamera *self)
{
  g_autoptr(GstPad) pad = NULL;
  g_autoptr(GstCaps) caps = NULL;
  const GstStructure *s;
  int num = 0, den = 0;

  if (self->parse == NULL)
    return;
  pad = gst_element_get_static_pad (self->parse, "src");
  if (pad != NULL)
    caps = gst_pad_get_current_caps (pad);
  if (caps == NULL || gst_caps_get_size (caps) == 0)
    return;

  s = gst_caps_get_structure (caps, 0);
  if (gst_structure_has_name (s, "video/x-h264"))
    self->codec = "h264";
  else if (gst_structure_has_name (s, "video/x-h265"))
    self->codec = "h265";
  else
    return;

  if (!gst_structure_get_int (s, "width", &self->width) ||
      !gst_structure_get_int (s, "height", &self->height))
    self->width = self->height = 0;
  if (gst_structure_get_fraction (s, "framerate", &num, &den) && den > 0)
    self->fps = (double) num / den;
  else
    self->fps = 0.0;
  self->have_video_info = TRUE;
}

static void
become_streaming (HearthCamera *self)
{
  self->streaming_since_us = g_get_monotonic_time ();
  if (self->logged_error != NULL) {
    g_message ("Camera %s is streaming again", self->id);
    g_clear_pointer (&self->logged_error, g_free);
  }
  g_clear_pointer (&self->last_error, g_free);
  set_state (self, HEARTH_CAMERA_STREAMING);
}

/* Cuts one sample of mp4mux output and feeds the stream. Returns FALSE once
 * the run is over (failed, or stopped by a subscriber). */
static gboolean
handle_sample (HearthCamera *self, GstSample *sample)
{
  guint64 generation = self->generation;
  GstBuffer *buffer = gst_sample_get_buffer (sample);
  g_autoptr(GError) error = NULL;
  HearthFmp4Kind kind;
  GBytes *bytes;
  gboolean keyframe;
  GstMapInfo map;
  gboolean ok;

  if (buffer == NULL)
    return TRUE;

  self->last_sample_us = g_get_monotonic_time ();

  /* The splitter copies what it keeps: read the buffer in place. */
  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    fail_run (self, "Could not read a buffer of the muxer", TRUE);
    return FALSE;
  }
  ok = hearth_fmp4_splitter_push (self->splitter, map.data, map.size, &error);
  gst_buffer_unmap (buffer, &map);
  if (!ok) {
    g_autofree char *reason =
      g_strdup_printf ("Malformed video from the camera: %s", error->message);

    fail_run (self, reason, TRUE);
    return FALSE;
  }

  while (run_is_current (self, generation) &&
         hearth_fmp4_splitter_pop (self->splitter, &kind, &bytes, &keyframe)) {
    if (kind == HEARTH_FMP4_INIT) {
      if (hearth_stream_push_init (self->stream, generation, bytes))
        read_video_info (self);
    } else if (hearth_stream_push_fragment (self->stream, generation, bytes,
                                            keyframe) &&
               keyframe && run_is_current (self, generation) &&
               self->state != HEARTH_CAMERA_STREAMING) {
      become_streaming (self);
    }
    g_bytes_unref (bytes);
  }

  return run_is_current (self, generation);
}

/* On the main context, woken by the streaming thread. */
static gboolean
on_samples_ready (gpointer user_data)
{
  HearthCamera *self = user_data;
  GSource *source = self->wake_source;
  guint64 generation = self->generation;
  guint n;

  g_object_ref (self);
  for (n = 0; n < MAX_SAMPLES_PER_DISPATCH; n++) {
    g_autoptr(GstSample) sample = NULL;

    if (!run_is_current (self, generation))
      break;
    sample = gst_app_sink_try_pull_sample (GST_APP_SINK (self->appsink), 0);
    if (sample == NULL)
      break;
    if (!handle_sample (self, sample))
      break;
  }
  /* Maybe more waiting: come back after the other sources had a turn. */
  if (n == MAX_SAMPLES_PER_DISPATCH && run_is_current (self, generation) &&
      self->wake_source == source)
    g_source_set_ready_time (source, 0);
  g_object_unref (self);

  return G_SOURCE_CONTINUE;
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *message, gpointer user_data)
{
  HearthCamera *self = user_data;

  switch (GST_MESSAGE_TYPE (message)) {
  case GST_MESSAGE_ERROR: {
    g_autoptr(GError) error = NULL;
    g_autofree char *debug = NULL;
    g_autofree char *safe_debug = NULL;

    gst_message_parse_error (message, &error, &debug);
    if (debug != NULL) {
      safe_debug = redact_for_camera (self, debug);
      g_debug ("Camera %s: pipeline error details: %s", self->id, safe_debug);
    }
    fail_run (self, error->message, TRUE);
    break;
  }
  case GST_MESSAGE_EOS:
    fail_run (self, "The camera ended the stream", TRUE);
    break;
  case GST_MESSAGE_WARNING: {
    g_autoptr(GError) error = NULL;
    g_autofree char *safe = NULL;

    gst_message_parse_warning (message, &error, NULL);
    safe = redact_for_camera (self, error->message);
    g_debug ("Camera %s: pipeline warning: %s", self->id, safe);
    break;
  }
  default:
    break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_watchdog (gpointer user_data)
{
  HearthCamera *self = user_data;
  gint64 now = g_get_monotonic_time ();

  if (self->state == HEARTH_CAMERA_CONNECTING &&
      now - self->started_us > CONNECT_TIMEOUT_US) {
    fail_run (self, "No video from the camera within 20 s", TRUE);
  } else if (self->state == HEARTH_CAMERA_STREAMING &&
             now - self->last_sample_us > STALL_TIMEOUT_US) {
    fail_run (self, "The camera stopped sending video for 5 s", TRUE);
  }
  return G_SOURCE_CONTINUE;
}

static GSource *
attach_source (HearthCamera *self, GSource *source, GSourceFunc func)
{
  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, self->context);
  return source;
}

/* Starts a run: a new generation, a new pipeline. */
static void
start_run (HearthCamera *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GstBus) bus = NULL;
  GstAppSinkCallbacks callbacks = { .new_sample = on_new_sample };
  GstStateChangeReturn ret;
  GstElement *pipeline;

  g_assert (self->pipeline == NULL);

  self->generation = hearth_stream_begin_generation (self->stream);
  clear_video_info (self);

  pipeline = build_pipeline (self, &error);
  if (pipeline == NULL) {
    /* A URL no retry can fix. */
    fail_run (self, error->message,
              !g_error_matches (error, HEARTH_ERROR, HEARTH_ERROR_INVALID));
    return;
  }

  self->pipeline = pipeline;
  self->appsink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  self->parse = gst_bin_get_by_name (GST_BIN (pipeline), "parse");
  g_assert (self->appsink != NULL && self->parse != NULL);
  self->splitter = hearth_fmp4_splitter_new ();
  self->started_us = self->last_sample_us = g_get_monotonic_time ();

  self->wake_source = g_source_new ((GSourceFuncs *) &wake_source_funcs,
                                    sizeof (GSource));
  g_source_set_priority (self->wake_source, G_PRIORITY_DEFAULT);
  attach_source (self, self->wake_source, on_samples_ready);

  g_object_set (self->appsink,
                "sync", FALSE,
                "emit-signals", FALSE,
                "drop", FALSE,
                "max-buffers", (guint) APPSINK_MAX_BUFFERS,
                "enable-last-sample", FALSE,
                NULL);
  gst_app_sink_set_callbacks (GST_APP_SINK (self->appsink), &callbacks,
                              g_source_ref (self->wake_source),
                              (GDestroyNotify) g_source_unref);

  bus = gst_element_get_bus (pipeline);
  self->bus_source = gst_bus_create_watch (bus);
  attach_source (self, self->bus_source, G_SOURCE_FUNC (on_bus_message));
  self->watchdog_source = g_timeout_source_new (WATCHDOG_INTERVAL_MS);
  attach_source (self, self->watchdog_source, on_watchdog);

  g_debug ("Camera %s: starting %s (generation %" G_GUINT64_FORMAT ")",
           self->id, self->safe_url, self->generation);

  ret = gst_element_set_state (pipeline, GST_STATE_PLAYING);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    g_autoptr(GstMessage) message =
      gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    g_autoptr(GError) start_error = NULL;

    if (message != NULL)
      gst_message_parse_error (message, &start_error, NULL);
    fail_run (self, start_error != NULL ? start_error->message :
              "Could not start the camera pipeline", TRUE);
    return;
  }

  set_state (self, HEARTH_CAMERA_CONNECTING);
}

/* ---- GObject ---- */

static void
hearth_camera_dispose (GObject *object)
{
  HearthCamera *self = HEARTH_CAMERA (object);

  self->running = FALSE;
  destroy_source (&self->retry_source);
  teardown_run (self);
  if (self->stream != NULL)
    hearth_stream_end (self->stream);
  g_clear_object (&self->stream);

  G_OBJECT_CLASS (hearth_camera_parent_class)->dispose (object);
}

static void
hearth_camera_finalize (GObject *object)
{
  HearthCamera *self = HEARTH_CAMERA (object);

  g_free (self->id);
  g_free (self->url);
  g_free (self->safe_url);
  g_free (self->last_error);
  g_free (self->logged_error);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (hearth_camera_parent_class)->finalize (object);
}

static void
hearth_camera_class_init (HearthCameraClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hearth_camera_dispose;
  object_class->finalize = hearth_camera_finalize;

  /**
   * HearthCamera::state-changed:
   * @state: the new HearthCameraState
   *
   * On the camera's main context.
   */
  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
hearth_camera_init (HearthCamera *self)
{
  self->backoff_min_ms = DEFAULT_BACKOFF_MIN_MS;
  self->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
  self->backoff_ms = DEFAULT_BACKOFF_MIN_MS;
  self->state = HEARTH_CAMERA_STOPPED;
}

const char *
hearth_camera_state_to_string (HearthCameraState state)
{
  switch (state) {
  case HEARTH_CAMERA_STOPPED:
    return "stopped";
  case HEARTH_CAMERA_CONNECTING:
    return "connecting";
  case HEARTH_CAMERA_STREAMING:
    return "streaming";
  case HEARTH_CAMERA_OFFLINE:
    return "offline";
  default:
    return "unknown";
  }
}

const char *
hearth_camera_get_state_name (HearthCamera *camera)
{
  return hearth_camera_state_to_string (camera ? hearth_camera_get_state (camera)
                                               : HEARTH_CAMERA_STOPPED);
}

/**
 * hearth_camera_new:
 * @id: the camera's UUID
 * @url: rtsp://, rtsps:// or synthetic: (validated by the caller)
 *
 * The camera lives on the thread-default main context of the caller; GStreamer
 * must be initialised. It does nothing until hearth_camera_start().
 *
 * Returns: (transfer full): a stopped camera
 */
HearthCamera *
hearth_camera_new (const char *id, const char *url)
{
  HearthCamera *self;

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (gst_is_initialized (), NULL);

  self = g_object_new (HEARTH_TYPE_CAMERA, NULL);
  self->id = g_strdup (id);
  self->url = g_strdup (url);
  self->safe_url = hearth_url_redact (url);
  self->context = g_main_context_ref_thread_default ();
  self->stream = hearth_stream_new (id, GOP_CACHE_MAX_BYTES);
  return self;
}

const char *
hearth_camera_get_id (HearthCamera *self)
{
  g_return_val_if_fail (HEARTH_IS_CAMERA (self), NULL);
  return self->id;
}

/**
 * hearth_camera_get_stream:
 *
 * Returns: (transfer none): the camera's stream
 */
HearthStream *
hearth_camera_get_stream (HearthCamera *self)
{
  g_return_val_if_fail (HEARTH_IS_CAMERA (self), NULL);
  return self->stream;
}

HearthCameraState
hearth_camera_get_state (HearthCamera *self)
{
  g_return_val_if_fail (HEARTH_IS_CAMERA (self), HEARTH_CAMERA_STOPPED);
  return self->state;
}

/**
 * hearth_camera_get_last_error:
 *
 * Returns: (nullable): why the camera is offline (or why the last attempt
 *   failed), without credentials
 */
const char *
hearth_camera_get_last_error (HearthCamera *self)
{
  g_return_val_if_fail (HEARTH_IS_CAMERA (self), NULL);
  return self->last_error;
}

/**
 * hearth_camera_get_video_info:
 * @codec: (out) (optional): "h264"
 * @width: (out) (optional):
 * @height: (out) (optional):
 * @fps: (out) (optional): 0 if the camera does not say
 *
 * Returns: FALSE until the current run's caps are known
 */
gboolean
hearth_camera_get_video_info (HearthCamera *self, const char **codec,
                              int *width, int *height, double *fps)
{
  g_return_val_if_fail (HEARTH_IS_CAMERA (self), FALSE);

  if (!self->have_video_info)
    return FALSE;
  if (codec)
    *codec = self->codec;
  if (width)
    *width = self->width;
  if (height)
    *height = self->height;
  if (fps)
    *fps = self->fps;
  return TRUE;
}

void
hearth_camera_set_backoff (HearthCamera *self, guint min_ms, guint max_ms)
{
  g_return_if_fail (HEARTH_IS_CAMERA (self));
  g_return_if_fail (min_ms > 0 && min_ms <= max_ms);

  self->backoff_min_ms = min_ms;
  self->backoff_max_ms = max_ms;
  self->backoff_ms = min_ms;
}

/* Starts ingest; a started camera keeps retrying until stopped. */
void
hearth_camera_set_gop_cache_bytes (HearthCamera *self, gsize max_bytes)
{
  g_return_if_fail (HEARTH_IS_CAMERA (self));
  hearth_stream_set_gop_cache_max_bytes (self->stream, max_bytes);
}

void
hearth_camera_start (HearthCamera *self)
{
  g_return_if_fail (HEARTH_IS_CAMERA (self));

  if (self->running)
    return;
  self->running = TRUE;
  self->backoff_ms = self->backoff_min_ms;
  g_clear_pointer (&self->logged_error, g_free);
  start_run (self);
}

void
hearth_camera_stop (HearthCamera *self)
{
  g_return_if_fail (HEARTH_IS_CAMERA (self));

  if (!self->running && self->state == HEARTH_CAMERA_STOPPED)
    return;

  g_object_ref (self);
  self->running = FALSE;
  destroy_source (&self->retry_source);
  teardown_run (self);
  g_clear_pointer (&self->last_error, g_free);
  hearth_stream_end (self->stream);
  set_state (self, HEARTH_CAMERA_STOPPED);
  g_object_unref (self);
}
