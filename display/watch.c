/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Watching cameras: `list`, `check` and `play`.
 *
 * A HearthWatch makes one GET /v1/cameras/{id}/live.mp4 through the
 * HearthDisplayClient and pushes the body, as it arrives, into a GStreamer
 * pipeline through an appsrc; qtdemux takes the fragmented MP4 apart.
 *
 * check:  appsrc ! qtdemux ! h264parse ! video/x-h264,avc,au ! tee ! queue ! appsink
 *                                                           tee ! queue ! avdec_h264 ! fakesink
 *     or  the same with h265parse, video/x-h265,hvc1,au and avdec_h265
 *   The parser is picked from the caps of qtdemux's video pad (the init
 *   segment's sample entry: avc1 or hvc1/hev1) when it appears, so the
 *   gateway's passed-through H.264 and H.265 are both checked. The appsink
 *   callback (a streaming thread) reads the access unit's decode timestamp
 *   and test stamp, if it has one, and hands a small record to the main
 *   context, where the counters live; the decoder beside it counts what it
 *   is fed and the pictures it makes, and its complaints (bus warnings) are
 *   decode errors. Once N frames arrived the end of the stream goes in, so
 *   that the decoder gives out every picture it holds before the report.
 *   Any camera can be checked: frames in order (by stamp counter when
 *   stamped, else by decode timestamp), decoding, time to first frame, gaps.
 *   Test stamps are checked when present, and required with --require-stamps
 *   or --expect-stamp. It stops after N frames, on a timeout, or when the
 *   stream ends, and prints one "key: value" line per measurement.
 * play:   appsrc ! qtdemux ! decodebin ! videoconvert ! autovideosink (or --sink)
 *
 * Following (play always, check with --follow): the gateway ends a live.mp4
 * response cleanly when the camera's stream generation ends (the camera
 * reconnected, or its resolution or codec changed). Once every frame of that
 * response went through, the watch drops its pipeline, builds a new one and
 * asks again, so the next generation's init segment starts a fresh demuxer
 * and decoder (another size or codec). Nothing of the old response can come
 * after the new one's first frame: one connection at a time, and the old
 * pipeline is gone first. A 503 "unavailable" (the camera is offline or
 * has no picture yet) is asked again the same way. A cut connection (an
 * error, not a clean end) or a refused request ends the watch. check counts
 * a frame captured before one the previous connections already gave as out
 * of order.
 *
 * Everything but the appsink callback runs on the thread-default main context.
 */
#define G_LOG_DOMAIN "hearth-display-watch"

#include "watch.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>

#include <glib-unix.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>

#include "camera-match.h"
#include "error.h"
#include "stamp.h"
#include "json-text.h"

#define READ_CHUNK 65536
/* Following: a connection that gave no frame waits before the next one,
 * doubling up to the maximum. */
#define FOLLOW_DELAY_MIN_MS 100
#define FOLLOW_DELAY_MAX_MS 2000
/* check: the decoder's name, whose bus warnings are decode errors */
#define CHECK_DECODER_NAME "check-decoder"
/* check: how long the decoder may take to finish the last frames, once N
 * arrived */
#define DRAIN_TIMEOUT_MS 5000
/* check: data on the appsink, the watch it reports to (no reference) */
#define WATCH_KEY "hearth-watch"

typedef enum {
  WATCH_RUNNING,
  WATCH_DONE,           /* check: N frames arrived; play: quit by the user */
  WATCH_ENDED,          /* the stream ended or was cut */
  WATCH_TIMED_OUT,
  WATCH_MEDIA_ERROR,    /* the pipeline failed; error says why */
  WATCH_REQUEST_FAILED, /* no stream at all; error says why */
  WATCH_INTERRUPTED,    /* SIGINT or SIGTERM */
} WatchState;

#define HEARTH_TYPE_WATCH (hearth_watch_get_type ())
G_DECLARE_FINAL_TYPE (HearthWatch, hearth_watch, HEARTH, WATCH, GObject)

/* Builds self->pipeline (and self->src) for one connection. */
typedef gboolean (*WatchBuildFunc) (HearthWatch *self, GError **error);

struct _HearthWatch {
  GObject parent_instance;

  HearthDisplayClient *client;
  GMainContext *context;     /* immutable; also read by the appsink callback */
  GMainLoop *loop;
  GCancellable *cancellable; /* the current connection's request and body */
  WatchBuildFunc build;
  gboolean follow;
  char *path;                /* the live.mp4 request */
  const char *stream;        /* (nullable) ?stream=: "main" or "sub" */
  char *title;               /* play: the window's */
  char *sink_description;    /* play */
  guint connection;          /* which connection callbacks belong to */
  guint connection_frames;   /* frames of the current connection */
  guint reconnects;
  guint follow_delay_ms;
  GstElement *pipeline;
  GstElement *src;
  GstElement *sink;          /* play: the video sink bin */
  GInputStream *body;
  GSource *bus_source;       /* the current pipeline's */
  GList *sources;            /* of GSource*: timeout, signals, end, retry */

  WatchState state;
  GError *error;
  char *end_reason;          /* why the body ended early, if it said */
  char *unavailable;         /* the gateway's last 503 before any frame */
  gboolean body_done;
  gboolean end_pending;

  /* check */
  guint want_frames;
  gboolean require_stamps;
  gboolean decode;
  gint64 max_gap_us;         /* 0: gaps are reported, not judged */
  gboolean have_expected;
  guint8 expected[16];
  guint frames;
  guint unstamped;
  guint mismatched;
  guint out_of_order;
  gboolean have_counter;
  guint64 last_counter;
  gint64 request_us;         /* monotonic time the first request was sent */
  gint64 first_frame_us;     /* monotonic time of the first access unit, or 0 */
  gint64 connection_last_us; /* monotonic, of the current connection's latest, or 0 */
  gint64 longest_gap_us;     /* between two access units of one connection */
  guint long_gaps;           /* gaps longer than max_gap_us */
  gboolean have_dts;
  GstClockTime last_dts;     /* of the current connection's latest access unit */
  gint fed;                  /* access units into the decoder (atomic) */
  gint decoded;              /* pictures out of the decoder (atomic) */
  gboolean draining;         /* N frames arrived; the decoder finishes */
  guint decode_errors;
  gint64 last_capture_us;    /* latest stamp capture time seen */
  gint64 connection_capture_us; /* ... before the current connection */
  int width, height;         /* of the latest access unit */
  GArray *lags_us;           /* of gint64: receipt - capture, stamped frames */
  FILE *frame_log;           /* (nullable) */
};

G_DEFINE_TYPE (HearthWatch, hearth_watch, G_TYPE_OBJECT)

/* One access unit, measured on the streaming thread, counted on the main one. */
typedef struct {
  HearthWatch *watch;
  gint64 receipt_real_us;
  gint64 receipt_mono_us;
  gboolean stamped;
  HearthStamp stamp;
  GstClockTime dts;          /* decode timestamp, else presentation, or NONE */
  int width, height;
} Frame;

static void
frame_free (gpointer data)
{
  Frame *frame = data;

  g_object_unref (frame->watch);
  g_free (frame);
}

static void
hearth_watch_finalize (GObject *object)
{
  HearthWatch *self = HEARTH_WATCH (object);

  g_clear_object (&self->body);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->src);
  g_clear_object (&self->sink);
  g_clear_object (&self->pipeline);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->client);
  g_clear_error (&self->error);
  g_free (self->end_reason);
  g_free (self->unavailable);
  g_free (self->path);
  g_free (self->title);
  g_free (self->sink_description);
  g_array_unref (self->lags_us);
  if (self->frame_log != NULL)
    fclose (self->frame_log);

  G_OBJECT_CLASS (hearth_watch_parent_class)->finalize (object);
}

static void
hearth_watch_class_init (HearthWatchClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = hearth_watch_finalize;
}

static void
hearth_watch_init (HearthWatch *self)
{
  self->lags_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->cancellable = g_cancellable_new ();
}

static HearthWatch *
hearth_watch_new (HearthDisplayClient *client)
{
  HearthWatch *self = g_object_new (HEARTH_TYPE_WATCH, NULL);

  self->client = g_object_ref (client);
  self->context = g_main_context_ref_thread_default ();
  self->loop = g_main_loop_new (self->context, FALSE);
  return self;
}

static void
watch_finish (HearthWatch *self, WatchState state)
{
  if (self->state != WATCH_RUNNING)
    return;
  self->state = state;
  g_cancellable_cancel (self->cancellable);
  g_main_loop_quit (self->loop);
}

static void
watch_add_source (HearthWatch *self, GSource *source, GSourceFunc func)
{
  /* Sources that ran their course go first: a display that follows a camera
   * through many restarts keeps only the ones still pending. */
  for (GList *l = self->sources, *next; l != NULL; l = next) {
    next = l->next;
    if (g_source_is_destroyed (l->data)) {
      g_source_unref (l->data);
      self->sources = g_list_delete_link (self->sources, l);
    }
  }
  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, self->context);
  self->sources = g_list_prepend (self->sources, source);
}

static void
source_destroy_and_unref (gpointer source)
{
  g_source_destroy (source);
  g_source_unref (source);
}

/* An asynchronous step of one connection: ignored once it is not the
 * current one. */
typedef struct {
  HearthWatch *watch;
  guint connection;
} Pending;

static Pending *
pending_new (HearthWatch *self)
{
  Pending *pending = g_new (Pending, 1);

  pending->watch = g_object_ref (self);
  pending->connection = self->connection;
  return pending;
}

static void
pending_free (Pending *pending)
{
  g_object_unref (pending->watch);
  g_free (pending);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pending, pending_free)

static gboolean
pending_is_current (const Pending *pending)
{
  return pending->connection == pending->watch->connection &&
         pending->watch->state == WATCH_RUNNING;
}

/* Drops the current connection and its pipeline; the counters stay. */
static void
watch_disconnect (HearthWatch *self)
{
  /* Whatever of it is still on its way is ignored. */
  self->connection++;
  if (self->bus_source != NULL) {
    g_source_destroy (self->bus_source);
    g_clear_pointer (&self->bus_source, g_source_unref);
  }
  g_cancellable_cancel (self->cancellable);

  if (self->pipeline != NULL)
    gst_element_set_state (self->pipeline, GST_STATE_NULL);

  /* The streaming threads are gone: count the frames they handed over. */
  while (g_main_context_iteration (self->context, FALSE))
    ;

  /*
   * Closing skips the rest of the body; with the cancellable cancelled it gives
   * up at once and the connection is dropped instead of drained.
   */
  if (self->body != NULL)
    g_input_stream_close (self->body, self->cancellable, NULL);
  g_clear_object (&self->body);
  g_clear_object (&self->src);
  g_clear_object (&self->sink);
  g_clear_object (&self->pipeline);
}

/* Stops everything the run started; the object stays readable. */
static void
watch_stop (HearthWatch *self)
{
  g_list_free_full (g_steal_pointer (&self->sources), source_destroy_and_unref);
  watch_disconnect (self);
}

static gboolean
on_timeout (gpointer user_data)
{
  watch_finish (user_data, WATCH_TIMED_OUT);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer user_data)
{
  watch_finish (user_data, WATCH_INTERRUPTED);
  return G_SOURCE_CONTINUE;
}

static gboolean watch_connect (HearthWatch *self, GError **error);

static gboolean
on_follow (gpointer user_data)
{
  HearthWatch *self = user_data;
  g_autoptr (GError) error = NULL;

  if (self->state == WATCH_RUNNING && !watch_connect (self, &error)) {
    self->error = g_steal_pointer (&error);
    watch_finish (self, WATCH_MEDIA_ERROR);
  }
  return G_SOURCE_REMOVE;
}

/* Following: the next connection at once, unless this one gave nothing
 * (the camera is still away). */
static void
follow_again (HearthWatch *self)
{
  if (self->connection_frames > 0)
    self->follow_delay_ms = 0;
  else
    self->follow_delay_ms = CLAMP (self->follow_delay_ms * 2,
                                   FOLLOW_DELAY_MIN_MS, FOLLOW_DELAY_MAX_MS);
  watch_disconnect (self);
  self->reconnects++;
  watch_add_source (self, g_timeout_source_new (self->follow_delay_ms), on_follow);
}

static gboolean
on_end_idle (gpointer user_data)
{
  HearthWatch *self = user_data;

  /* The stream ended right after the last frame the check wanted. */
  if (self->draining) {
    watch_finish (self, WATCH_DONE);
    return G_SOURCE_REMOVE;
  }
  /* Cut, or not following: the end. */
  if (!self->follow || self->end_reason != NULL) {
    watch_finish (self, WATCH_ENDED);
    return G_SOURCE_REMOVE;
  }
  /* A clean end: that generation is over. */
  follow_again (self);
  return G_SOURCE_REMOVE;
}

/*
 * The end of the stream is acted on at low priority, after every frame the
 * streaming thread handed over before it.
 */
static void
watch_end_soon (HearthWatch *self)
{
  GSource *source;

  if (self->end_pending)
    return;
  self->end_pending = TRUE;
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_LOW);
  watch_add_source (self, source, on_end_idle);
}

static gboolean
is_window_closed (HearthWatch *self, GstMessage *msg, const GError *error)
{
  /* Video sinks report a closed window as RESOURCE_NOT_FOUND. */
  return self->sink != NULL &&
         g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND) &&
         GST_IS_ELEMENT (GST_MESSAGE_SRC (msg)) &&
         (GST_MESSAGE_SRC (msg) == GST_OBJECT (self->sink) ||
          gst_object_has_as_ancestor (GST_MESSAGE_SRC (msg), GST_OBJECT (self->sink)));
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  HearthWatch *self = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
  case GST_MESSAGE_EOS:
    /* Draining: every sink has all it will get, the decoder included. */
    if (self->draining)
      watch_finish (self, WATCH_DONE);
    else
      watch_end_soon (self);
    break;
  case GST_MESSAGE_WARNING: {
    g_autoptr (GError) error = NULL;
    g_autofree char *debug = NULL;

    gst_message_parse_warning (msg, &error, &debug);
    g_debug ("%s: %s (%s)", GST_MESSAGE_SRC_NAME (msg), error->message, debug);
    /* The check's decoder says so for each picture it could not decode. */
    if (g_strcmp0 (GST_MESSAGE_SRC_NAME (msg), CHECK_DECODER_NAME) == 0 &&
        error->domain == GST_STREAM_ERROR)
      self->decode_errors++;
    break;
  }
  case GST_MESSAGE_ERROR: {
    g_autoptr (GError) error = NULL;
    g_autofree char *debug = NULL;

    gst_message_parse_error (msg, &error, &debug);
    g_debug ("%s: %s (%s)", GST_MESSAGE_SRC_NAME (msg), error->message, debug);
    if (self->body_done) {
      /* A demuxer left with a truncated stream: the stream ended. */
      watch_end_soon (self);
    } else if (is_window_closed (self, msg, error)) {
      watch_finish (self, WATCH_DONE);
    } else if (self->state == WATCH_RUNNING) {
      self->error = g_error_new (HEARTH_ERROR, HEARTH_ERROR_MEDIA, "%s: %s",
                                 GST_MESSAGE_SRC_NAME (msg), error->message);
      watch_finish (self, WATCH_MEDIA_ERROR);
    }
    break;
  }
  default:
    break;
  }
  return G_SOURCE_CONTINUE;
}

static void
body_done (HearthWatch *self, const char *reason)
{
  if (self->body_done)
    return;
  self->body_done = TRUE;
  if (reason != NULL)
    self->end_reason = g_strdup (reason);
  gst_app_src_end_of_stream (GST_APP_SRC (self->src));
}

static void
on_body_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Pending) pending = user_data;
  HearthWatch *self = pending->watch;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;
  GstFlowReturn flow;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (!pending_is_current (pending))
    return;
  if (bytes == NULL) {
    g_debug ("reading the stream: %s", error->message);
    body_done (self, error->message);
    return;
  }
  if (g_bytes_get_size (bytes) == 0) {
    body_done (self, NULL);
    return;
  }

  flow = gst_app_src_push_buffer (GST_APP_SRC (self->src),
                                  gst_buffer_new_wrapped_bytes (bytes));
  if (flow != GST_FLOW_OK) {
    g_debug ("appsrc refused data: %s", gst_flow_get_name (flow));
    return;
  }

  g_input_stream_read_bytes_async (self->body, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   self->cancellable, on_body_read,
                                   g_steal_pointer (&pending));
}

static void
on_stream_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Pending) pending = user_data;
  HearthWatch *self = pending->watch;
  g_autoptr (GInputStream) body = NULL;
  g_autoptr (GError) error = NULL;

  body = hearth_display_client_send_finish (HEARTH_DISPLAY_CLIENT (source),
                                            result, &error);
  if (!pending_is_current (pending))
    return;
  if (body == NULL && (self->follow || self->frames == 0) &&
      g_error_matches (error, HEARTH_ERROR, HEARTH_ERROR_UNAVAILABLE)) {
    /* 503: the camera is offline, restarting or has sent no picture yet;
     * wait for it (check without --follow: for its first frame, until its
     * timeout, which then says why). */
    g_debug ("%s; asking again", error->message);
    if (self->frames == 0) {
      g_free (self->unavailable);
      self->unavailable = g_strdup (error->message);
    }
    follow_again (self);
    return;
  }
  if (body == NULL && self->reconnects > 0) {
    /* Following, and the camera is no longer ours (or gone). */
    self->end_reason = g_strdup (error->message);
    watch_finish (self, WATCH_ENDED);
    return;
  }
  if (body == NULL) {
    self->error = g_steal_pointer (&error);
    watch_finish (self, WATCH_REQUEST_FAILED);
    return;
  }

  self->body = g_steal_pointer (&body);
  g_input_stream_read_bytes_async (self->body, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   self->cancellable, on_body_read,
                                   g_steal_pointer (&pending));
}

/* Looks @camera up among the household's cameras (camera-match.c). */
static gboolean
resolve_camera (HearthDisplayClient *client,
                const char *camera,
                gboolean need_name,
                char **id,
                char **name,
                GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) local_error = NULL;
  JsonNode *cameras_node;

  /* An id goes straight to the gateway, which alone decides what is ours. */
  if (g_uuid_string_is_valid (camera) && !need_name) {
    *id = g_strdup (camera);
    *name = g_strdup (camera);
    return TRUE;
  }

  root = hearth_display_client_request_json (client, "GET", "/v1/cameras", NULL,
                                             NULL, error);
  if (root == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (root) ||
      (cameras_node = json_object_get_member (json_node_get_object (root), "cameras")) == NULL ||
      !JSON_NODE_HOLDS_ARRAY (cameras_node)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "the gateway's camera list has no “cameras” array");
    return FALSE;
  }

  if (hearth_display_camera_match (json_node_get_array (cameras_node), camera, id, name,
                                   &local_error))
    return TRUE;
  /* Not listed: still ask, and let the gateway answer. */
  if (g_error_matches (local_error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND) &&
      g_uuid_string_is_valid (camera)) {
    *id = g_strdup (camera);
    *name = g_strdup (camera);
    return TRUE;
  }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/* A new pipeline, and the request for the camera's live stream. */
static gboolean
watch_connect (HearthWatch *self, GError **error)
{
  g_autoptr (GstBus) bus = NULL;

  /* The first one may have been built already. */
  if (self->pipeline == NULL && !self->build (self, error))
    return FALSE;
  bus = gst_element_get_bus (self->pipeline);
  self->bus_source = gst_bus_create_watch (bus);
  g_source_set_callback (self->bus_source, G_SOURCE_FUNC (on_bus_message), self, NULL);
  g_source_attach (self->bus_source, self->context);

  if (gst_element_set_state (self->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA, "cannot start the pipeline");
    return FALSE;
  }

  self->connection_frames = 0;
  self->connection_capture_us = self->last_capture_us;
  self->connection_last_us = 0;
  self->have_dts = FALSE;
  self->have_counter = FALSE;
  self->body_done = FALSE;
  self->end_pending = FALSE;
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  if (self->request_us == 0)
    self->request_us = g_get_monotonic_time ();
  hearth_display_client_send_async (self->client, "GET", self->path, NULL, self->cancellable,
                                    on_stream_sent, pending_new (self));
  return TRUE;
}

/* Sends the request and runs the main loop until the watch is over. */
static gboolean
watch_run (HearthWatch *self, const char *camera_id, guint timeout_s, GError **error)
{
  g_autofree char *escaped = g_uri_escape_string (camera_id, NULL, FALSE);

  self->path = g_strdup_printf ("/v1/cameras/%s/live.mp4%s%s", escaped,
                                self->stream != NULL ? "?stream=" : "",
                                self->stream != NULL ? self->stream : "");
  watch_add_source (self, g_unix_signal_source_new (SIGINT), on_signal);
  watch_add_source (self, g_unix_signal_source_new (SIGTERM), on_signal);
  if (timeout_s > 0)
    watch_add_source (self, g_timeout_source_new_seconds (timeout_s), on_timeout);

  if (!watch_connect (self, error)) {
    watch_stop (self);
    return FALSE;
  }
  g_main_loop_run (self->loop);
  watch_stop (self);

  if (self->state == WATCH_REQUEST_FAILED) {
    g_propagate_error (error, g_steal_pointer (&self->error));
    return FALSE;
  }
  return TRUE;
}

/* @tail: what follows qtdemux's first video pad; NULL: an unlinked appsink
 * named "sink", for the caller to link on "pad-added" of "demux". */
static GstElement *
make_pipeline (HearthWatch *self, const char *tail, GError **error)
{
  g_autofree char *description = NULL;
  g_autoptr (GError) local_error = NULL;

  if (tail != NULL)
    description = g_strdup_printf ("appsrc name=src is-live=true format=bytes "
                                   "caps=video/quicktime max-bytes=16777216 ! "
                                   "qtdemux name=demux demux.video_0 ! %s", tail);
  else
    description = g_strdup ("appsrc name=src is-live=true format=bytes "
                            "caps=video/quicktime max-bytes=16777216 ! "
                            "qtdemux name=demux "
                            "appsink name=sink sync=false");
  self->pipeline = gst_parse_launch_full (description, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
                                          &local_error);
  if (self->pipeline == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "cannot make the pipeline: %s", local_error->message);
    return NULL;
  }
  gst_object_ref_sink (self->pipeline);
  self->src = gst_bin_get_by_name (GST_BIN (self->pipeline), "src");
  return self->pipeline;
}

/* check */

static gboolean
on_drain_timeout (gpointer user_data)
{
  watch_finish (user_data, WATCH_DONE);
  return G_SOURCE_REMOVE;
}

/*
 * N frames arrived. Without a decoder that is all; with one, the end of the
 * stream goes in after them, so that the decoder gives out every picture it
 * still holds before the pipeline stops (EOS on the bus), and fed and decoded
 * can be compared.
 */
static void
check_done (HearthWatch *self)
{
  if (!self->decode) {
    watch_finish (self, WATCH_DONE);
    return;
  }
  self->draining = TRUE;
  if (!self->body_done)
    gst_app_src_end_of_stream (GST_APP_SRC (self->src));
  watch_add_source (self, g_timeout_source_new (DRAIN_TIMEOUT_MS), on_drain_timeout);
}

static gboolean
on_frame (gpointer user_data)
{
  Frame *frame = user_data;
  HearthWatch *self = frame->watch;

  /* Past N, while the decoder finishes: not counted. */
  if (self->state != WATCH_RUNNING || self->draining)
    return G_SOURCE_REMOVE;

  self->frames++;
  self->connection_frames++;
  if (self->first_frame_us == 0)
    self->first_frame_us = frame->receipt_mono_us;
  /* The pause while --follow asks again is not a gap of the stream. */
  if (self->connection_last_us != 0) {
    gint64 gap = frame->receipt_mono_us - self->connection_last_us;

    self->longest_gap_us = MAX (self->longest_gap_us, gap);
    if (self->max_gap_us > 0 && gap > self->max_gap_us)
      self->long_gaps++;
  }
  self->connection_last_us = frame->receipt_mono_us;
  self->width = frame->width;
  self->height = frame->height;

  if (self->frame_log != NULL) {
    g_autofree char *id = frame->stamped
        ? hearth_stamp_id_to_string (frame->stamp.camera_id) : g_strdup ("-");

    /* Flushed per frame: the isolation tests read it after a kill. */
    fprintf (self->frame_log, "%" G_GINT64_FORMAT " %s %" G_GUINT64_FORMAT " %"
             G_GINT64_FORMAT "\n", frame->receipt_real_us, id,
             frame->stamped ? frame->stamp.counter : 0,
             frame->stamped ? frame->stamp.capture_time_us : 0);
    fflush (self->frame_log);
  }

  if (!frame->stamped) {
    self->unstamped++;
    /* No counter to go by: the stream's own decode timestamps, which run
     * on within one connection (a new one starts a new generation). */
    if (GST_CLOCK_TIME_IS_VALID (frame->dts)) {
      if (self->have_dts && frame->dts <= self->last_dts)
        self->out_of_order++;
      self->have_dts = TRUE;
      self->last_dts = frame->dts;
    }
  } else {
    gint64 lag = frame->receipt_real_us - frame->stamp.capture_time_us;

    if (!self->have_expected) {
      memcpy (self->expected, frame->stamp.camera_id, sizeof self->expected);
      self->have_expected = TRUE;
    }
    if (memcmp (frame->stamp.camera_id, self->expected, sizeof self->expected) != 0)
      self->mismatched++;
    /* Within a connection by the counter; across them (another camera
     * process may count from 0) by the capture time. */
    if (self->have_counter && frame->stamp.counter <= self->last_counter)
      self->out_of_order++;
    else if (frame->stamp.capture_time_us <= self->connection_capture_us)
      self->out_of_order++;
    self->have_counter = TRUE;
    self->last_counter = frame->stamp.counter;
    self->last_capture_us = MAX (self->last_capture_us, frame->stamp.capture_time_us);
    g_array_append_val (self->lags_us, lag);
  }

  if (self->frames >= self->want_frames)
    check_done (self);
  return G_SOURCE_REMOVE;
}

static GstFlowReturn
on_new_sample (GstAppSink *appsink, gpointer user_data)
{
  HearthWatch *self = user_data;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (appsink);
  GstBuffer *buffer;
  GstCaps *caps;
  GstMapInfo map;
  guint nal_length_size = 4;
  HearthStampCodec codec = HEARTH_STAMP_H264;
  Frame *frame;

  if (sample == NULL)
    return GST_FLOW_EOS;

  frame = g_new0 (Frame, 1);
  frame->receipt_real_us = g_get_real_time ();
  frame->receipt_mono_us = g_get_monotonic_time ();
  frame->dts = GST_CLOCK_TIME_NONE;

  caps = gst_sample_get_caps (sample);
  if (caps != NULL && gst_caps_get_size (caps) > 0) {
    const GstStructure *s = gst_caps_get_structure (caps, 0);
    const GValue *value = gst_structure_get_value (s, "codec_data");
    GstBuffer *codec_data = value != NULL && G_VALUE_HOLDS (value, GST_TYPE_BUFFER) ?
                            gst_value_get_buffer (value) : NULL;
    /* lengthSizeMinusOne is the low two bits of byte 4 of avcC, of byte 21
     * of hvcC. */
    gsize length_byte = 4;
    guint8 byte;

    if (gst_structure_has_name (s, "video/x-h265")) {
      codec = HEARTH_STAMP_H265;
      length_byte = 21;
    }
    gst_structure_get_int (s, "width", &frame->width);
    gst_structure_get_int (s, "height", &frame->height);
    if (codec_data != NULL && gst_buffer_extract (codec_data, length_byte, &byte, 1) == 1)
      nal_length_size = (byte & 3) + 1;
  }

  buffer = gst_sample_get_buffer (sample);
  if (buffer != NULL)
    frame->dts = GST_BUFFER_DTS_OR_PTS (buffer);
  if (buffer != NULL && gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    frame->stamped = hearth_stamp_find_for (map.data, map.size, nal_length_size, codec,
                                            &frame->stamp);
    gst_buffer_unmap (buffer, &map);
  }

  /* The counters belong to the main context. */
  frame->watch = g_object_ref (self);
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, on_frame, frame, frame_free);
  return GST_FLOW_OK;
}

/* The parser and decoder for the check, by the caps of qtdemux's video pad.
 * The bin's unlinked queue becomes its "src": access units for the appsink. */
static const struct {
  const char *media_type;
  const char *parser;
  const char *decoder;
} check_parsers[] = {
  { "video/x-h264",
    "h264parse ! capsfilter caps=\"video/x-h264,stream-format=avc,alignment=au\"",
    "avdec_h264" },
  { "video/x-h265",
    "h265parse ! capsfilter caps=\"video/x-h265,stream-format=hvc1,alignment=au\"",
    "avdec_h265" },
};

/* The decoder's pads, on its streaming thread: one more access unit in
 * (@user_data's fed) or picture out (decoded). */
static GstPadProbeReturn
on_decoder_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  g_atomic_int_inc ((gint *) user_data);
  return GST_PAD_PROBE_OK;
}

/* qtdemux, on its streaming thread: the first video pad gets its codec's
 * parser, linked to the appsink (@user_data). Other pads stay unlinked. */
static void
on_check_pad_added (GstElement *demux, GstPad *pad, gpointer user_data)
{
  GstElement *appsink = user_data;
  HearthWatch *self = g_object_get_data (G_OBJECT (appsink), WATCH_KEY);
  g_autoptr (GstPad) sink = gst_element_get_static_pad (appsink, "sink");
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  g_autoptr (GstObject) pipeline = NULL;
  g_autoptr (GstPad) parser_sink = NULL;
  g_autoptr (GstPad) parser_src = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *description = NULL;
  GstElement *parser;

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  if (gst_pad_is_linked (sink) || caps == NULL || gst_caps_get_size (caps) == 0 ||
      !g_str_has_prefix (GST_PAD_NAME (pad), "video_"))
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (check_parsers); i++) {
    if (!gst_structure_has_name (gst_caps_get_structure (caps, 0),
                                 check_parsers[i].media_type))
      continue;
    if (self->decode)
      description = g_strdup_printf ("%s ! tee name=t t. ! queue ! %s name=" CHECK_DECODER_NAME
                                     " max-threads=1 ! fakesink sync=false async=false "
                                     "t. ! queue", check_parsers[i].parser,
                                     check_parsers[i].decoder);
    else
      description = g_strdup (check_parsers[i].parser);
  }
  if (description == NULL) {
    GST_ELEMENT_ERROR (demux, STREAM, CODEC_NOT_FOUND,
                       ("the stream's video is neither H.264 nor H.265"), (NULL));
    return;
  }

  parser = gst_parse_bin_from_description_full (description, TRUE, NULL,
                                                GST_PARSE_FLAG_FATAL_ERRORS, &error);
  pipeline = gst_object_get_parent (GST_OBJECT (appsink));
  if (parser == NULL || pipeline == NULL) {
    if (parser != NULL)
      gst_object_unref (gst_object_ref_sink (parser));
    GST_ELEMENT_ERROR (demux, CORE, MISSING_PLUGIN,
                       ("cannot make the parser: %s",
                        error != NULL ? error->message : "no pipeline"), (NULL));
    return;
  }
  if (self->decode) {
    g_autoptr (GstElement) decoder = gst_bin_get_by_name (GST_BIN (parser), CHECK_DECODER_NAME);
    g_autoptr (GstPad) decoder_sink = gst_element_get_static_pad (decoder, "sink");
    g_autoptr (GstPad) decoder_src = gst_element_get_static_pad (decoder, "src");

    gst_pad_add_probe (decoder_sink, GST_PAD_PROBE_TYPE_BUFFER, on_decoder_buffer,
                       &self->fed, NULL);
    gst_pad_add_probe (decoder_src, GST_PAD_PROBE_TYPE_BUFFER, on_decoder_buffer,
                       &self->decoded, NULL);
  }
  if (!gst_bin_add (GST_BIN (pipeline), parser))
    return;
  parser_sink = gst_element_get_static_pad (parser, "sink");
  parser_src = gst_element_get_static_pad (parser, "src");
  if (GST_PAD_LINK_FAILED (gst_pad_link (parser_src, sink)) ||
      !gst_element_sync_state_with_parent (parser) ||
      GST_PAD_LINK_FAILED (gst_pad_link (pad, parser_sink)))
    GST_ELEMENT_ERROR (demux, CORE, NEGOTIATION,
                       ("cannot link the stream's video to the check"), (NULL));
}

static int
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values, in milliseconds. */
static double
percentile_ms (GArray *sorted, double p)
{
  gsize rank = (gsize) (p * sorted->len + 0.999999);

  if (rank < 1)
    rank = 1;
  if (rank > sorted->len)
    rank = sorted->len;
  return g_array_index (sorted, gint64, rank - 1) / 1000.0;
}

static void
print_check_report (HearthWatch *self, guint timeout_s, gboolean *passed)
{
  g_autoptr (GString) reason = g_string_new (NULL);
  g_autofree char *stamp_id = NULL;

  g_print ("frames: %u\n", self->frames);
  if (self->first_frame_us != 0)
    g_print ("time-to-first-frame-ms: %.1f\n",
             (self->first_frame_us - self->request_us) / 1000.0);
  else
    g_print ("time-to-first-frame-ms: none\n");
  if (self->lags_us->len > 0) {
    g_array_sort (self->lags_us, compare_gint64);
    g_print ("lag-ms-p50: %.1f\n", percentile_ms (self->lags_us, 0.50));
    g_print ("lag-ms-p99: %.1f\n", percentile_ms (self->lags_us, 0.99));
  } else {
    g_print ("lag-ms-p50: none\nlag-ms-p99: none\n");
  }
  g_print ("unstamped: %u\n", self->unstamped);
  g_print ("mismatched: %u\n", self->mismatched);
  g_print ("out-of-order: %u\n", self->out_of_order);
  if (self->have_expected)
    stamp_id = hearth_stamp_id_to_string (self->expected);
  g_print ("stamp-id: %s\n", stamp_id != NULL ? stamp_id : "none");
  if (self->width > 0)
    g_print ("size: %dx%d\n", self->width, self->height);
  else
    g_print ("size: none\n");
  g_print ("reconnects: %u\n", self->reconnects);
  if (self->frames > 1)
    g_print ("longest-gap-ms: %.1f\n", self->longest_gap_us / 1000.0);
  else
    g_print ("longest-gap-ms: none\n");
  if (self->decode) {
    g_print ("decoded: %d\n", g_atomic_int_get (&self->decoded));
    g_print ("decode-errors: %u\n", self->decode_errors);
  } else {
    g_print ("decoded: none\ndecode-errors: none\n");
  }

  switch (self->state) {
  case WATCH_DONE:
    if (self->mismatched > 0)
      g_string_append_printf (reason, "%u frames carried another camera's stamp",
                              self->mismatched);
    if (self->unstamped > 0 && self->require_stamps)
      g_string_append_printf (reason, "%s%u of %u frames had no test stamp, and stamps "
                              "were required (only Hearth's test cameras stamp frames)",
                              reason->len > 0 ? "; " : "", self->unstamped, self->frames);
    if (self->out_of_order > 0)
      g_string_append_printf (reason, "%s%u frames out of order",
                              reason->len > 0 ? "; " : "", self->out_of_order);
    if (self->decode_errors > 0)
      g_string_append_printf (reason, "%s%u decode errors",
                              reason->len > 0 ? "; " : "", self->decode_errors);
    if (self->decode && g_atomic_int_get (&self->decoded) < g_atomic_int_get (&self->fed))
      g_string_append_printf (reason, "%s%d of %d frames gave no picture",
                              reason->len > 0 ? "; " : "",
                              g_atomic_int_get (&self->fed) - g_atomic_int_get (&self->decoded),
                              g_atomic_int_get (&self->fed));
    if (self->long_gaps > 0)
      g_string_append_printf (reason, "%s%u gaps between frames longer than %.0f ms "
                              "(--max-gap; longest %.1f ms)", reason->len > 0 ? "; " : "",
                              self->long_gaps, self->max_gap_us / 1000.0,
                              self->longest_gap_us / 1000.0);
    break;
  case WATCH_ENDED:
    g_string_append_printf (reason, "stream ended after %u frames", self->frames);
    if (self->end_reason != NULL)
      g_printerr ("hearth-display: the stream was cut: %s\n", self->end_reason);
    break;
  case WATCH_TIMED_OUT:
    g_string_append_printf (reason, "timed out after %u s with %u of %u frames",
                            timeout_s, self->frames, self->want_frames);
    if (self->frames == 0 && self->unavailable != NULL)
      g_string_append_printf (reason, " (the gateway said: %s)", self->unavailable);
    break;
  case WATCH_INTERRUPTED:
    g_string_append_printf (reason, "interrupted after %u frames", self->frames);
    break;
  case WATCH_MEDIA_ERROR:
    g_string_append_printf (reason, "cannot demux or decode the stream after %u frames: %s",
                            self->frames, self->error->message);
    break;
  case WATCH_RUNNING:
  case WATCH_REQUEST_FAILED:
    g_assert_not_reached ();
  }

  *passed = reason->len == 0;
  if (*passed)
    g_print ("ok\n");
  else
    g_print ("FAILED: %s\n", reason->str);
}

/* check: the pipeline of one connection. */
static gboolean
check_build (HearthWatch *self, GError **error)
{
  g_autoptr (GstElement) appsink = NULL;
  g_autoptr (GstElement) demux = NULL;
  GstAppSinkCallbacks callbacks = { .new_sample = on_new_sample };

  if (make_pipeline (self, NULL, error) == NULL)
    return FALSE;
  appsink = gst_bin_get_by_name (GST_BIN (self->pipeline), "sink");
  demux = gst_bin_get_by_name (GST_BIN (self->pipeline), "demux");
  /* Holds the appsink, not the watch: no reference cycle through the
   * pipeline, and the pipeline stops before the appsink goes. The appsink
   * names the watch without a reference, as its callbacks do. */
  g_object_set_data (G_OBJECT (appsink), WATCH_KEY, self);
  g_signal_connect_data (demux, "pad-added", G_CALLBACK (on_check_pad_added),
                         gst_object_ref (appsink),
                         (GClosureNotify) (void (*) (void)) gst_object_unref, 0);
  /* No reference: the pipeline stops (joining its threads) before self goes. */
  gst_app_sink_set_callbacks (GST_APP_SINK (appsink), &callbacks, self, NULL);
  return TRUE;
}

/**
 * hearth_display_check:
 * @client: a paired client
 * @options: what to receive and expect
 * @passed: (out): TRUE if N frames arrived in order, decodable, without a gap
 *   longer than the maximum, and none stamped by another camera; with
 *   stamps required, every one stamped by the expected camera
 *
 * Receives a camera's live stream headlessly and prints what it measured.
 *
 * Returns: FALSE with @error set if there was no stream to check (unreachable
 *   gateway, refused certificate, no such camera…); TRUE once a report was
 *   printed.
 */
gboolean
hearth_display_check (HearthDisplayClient *client,
                      const HearthCheckOptions *options,
                      gboolean *passed,
                      GError **error)
{
  g_autoptr (HearthWatch) self = hearth_watch_new (client);
  g_autofree char *id = NULL;
  g_autofree char *name = NULL;

  *passed = FALSE;
  self->build = check_build;
  self->follow = options->follow;
  self->stream = options->stream;
  self->want_frames = options->frames;
  self->require_stamps = options->require_stamps || options->have_expected;
  self->decode = options->decode;
  self->max_gap_us = (gint64) (options->max_gap_s * G_USEC_PER_SEC);
  self->have_expected = options->have_expected;
  memcpy (self->expected, options->expected, sizeof self->expected);
  if (options->frame_log != NULL) {
    self->frame_log = fopen (options->frame_log, "a");
    if (self->frame_log == NULL) {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot write %s: %s", options->frame_log, g_strerror (saved));
      return FALSE;
    }
  }

  if (!check_build (self, error) ||
      !resolve_camera (client, options->camera, FALSE, &id, &name, error))
    return FALSE;
  if (!watch_run (self, id, options->timeout_s, error))
    return FALSE;

  print_check_report (self, options->timeout_s, passed);
  return TRUE;
}

/* play */

/* @user_data: the watch, whose pipeline stops before it goes; its title is
 * set before the first request. */
static GstPadProbeReturn
on_first_video_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  HearthWatch *self = user_data;

  /* Video sinks name their window after the stream's title tag. */
  gst_pad_push_event (pad, gst_event_new_tag (gst_tag_list_new (GST_TAG_TITLE, self->title,
                                                                NULL)));
  return GST_PAD_PROBE_REMOVE;
}

static void
sink_no_sync (const GValue *value, gpointer user_data)
{
  GObject *element = g_value_get_object (value);

  /* A live view shows each frame when it arrives. */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (element), "sync") != NULL)
    g_object_set (element, "sync", FALSE, NULL);
}

/* play: the pipeline of one connection. */
static gboolean
play_build (HearthWatch *self, GError **error)
{
  g_autoptr (GstElement) convert = NULL;
  g_autoptr (GstPad) pad = NULL;
  g_autoptr (GstIterator) it = NULL;
  g_autoptr (GError) sink_error = NULL;

  if (make_pipeline (self, "decodebin ! videoconvert name=convert", error) == NULL)
    return FALSE;

  self->sink = gst_parse_bin_from_description_full (self->sink_description,
                                                    TRUE, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
                                                    &sink_error);
  if (self->sink == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "cannot make the video sink “%s”: %s", self->sink_description,
                 sink_error->message);
    return FALSE;
  }
  gst_object_ref_sink (self->sink);
  it = gst_bin_iterate_sinks (GST_BIN (self->sink));
  gst_iterator_foreach (it, sink_no_sync, NULL);
  convert = gst_bin_get_by_name (GST_BIN (self->pipeline), "convert");
  gst_bin_add (GST_BIN (self->pipeline), self->sink);
  if (!gst_element_link (convert, self->sink)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "the video sink “%s” does not take video", self->sink_description);
    return FALSE;
  }

  /* The window's title, once the camera's name is known. */
  pad = gst_element_get_static_pad (convert, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_first_video_buffer,
                     self, NULL);
  return TRUE;
}

/**
 * hearth_display_play:
 * @client: a paired client
 * @camera: id or exact name
 * @stream: (nullable): "main" or "sub" (?stream=), default the main one
 * @sink: (nullable): video sink description, default "autovideosink"
 * @passed: (out): FALSE if the stream ended or the player failed
 *
 * Plays a camera in a window until Ctrl-C, a closed window or the end of the
 * stream.
 *
 * Returns: FALSE with @error set if there was no stream to play.
 */
gboolean
hearth_display_play (HearthDisplayClient *client,
                     const char *camera,
                     const char *stream,
                     const char *sink,
                     gboolean *passed,
                     GError **error)
{
  g_autoptr (HearthWatch) self = hearth_watch_new (client);
  g_autofree char *id = NULL;
  g_autofree char *name = NULL;

  *passed = FALSE;
  self->build = play_build;
  self->follow = TRUE;
  self->stream = stream;
  self->sink_description = g_strdup (sink != NULL ? sink : "autovideosink");
  /* The first pipeline now: a bad sink is said before any request. */
  if (!play_build (self, error))
    return FALSE;
  if (!resolve_camera (client, camera, TRUE, &id, &name, error))
    return FALSE;
  self->title = g_strdup (name);

  g_print ("playing %s (%s); Ctrl-C stops\n", name, id);
  if (!watch_run (self, id, 0, error))
    return FALSE;

  switch (self->state) {
  case WATCH_DONE:
  case WATCH_INTERRUPTED:
    *passed = TRUE;
    break;
  case WATCH_ENDED:
    g_printerr ("hearth-display: the stream ended%s%s\n",
                self->end_reason != NULL ? ": " : "",
                self->end_reason != NULL ? self->end_reason : "");
    break;
  case WATCH_MEDIA_ERROR:
    g_printerr ("hearth-display: cannot play the stream: %s\n", self->error->message);
    break;
  case WATCH_TIMED_OUT:
  case WATCH_RUNNING:
  case WATCH_REQUEST_FAILED:
    g_assert_not_reached ();
  }
  return TRUE;
}

/* list */

static void
print_padded (const char *text, guint width)
{
  glong len = g_utf8_strlen (text, -1);

  g_print ("%s", text);
  for (; len < (glong) width; len++)
    g_print (" ");
}

/**
 * hearth_display_list_cameras:
 * @client: a paired client
 * @raw_json: print the gateway's JSON as received
 *
 * Prints the household's cameras: ID, NAME, STATE, CODEC, SIZE, FPS.
 *
 * Returns: TRUE, or FALSE with @error set.
 */
gboolean
hearth_display_list_cameras (HearthDisplayClient *client, gboolean raw_json, GError **error)
{
  static const char *const headers[] = { "ID", "NAME", "STATE", "CODEC", "SIZE", "FPS" };
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GBytes) raw = NULL;
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  JsonNode *cameras_node;
  JsonArray *cameras;
  guint widths[G_N_ELEMENTS (headers)];
  guint i, c;

  root = hearth_display_client_request_json (client, "GET", "/v1/cameras", NULL, &raw, error);
  if (root == NULL)
    return FALSE;

  if (raw_json) {
    gsize len;
    const char *data = g_bytes_get_data (raw, &len);

    fwrite (data, 1, len, stdout);
    if (len == 0 || data[len - 1] != '\n')
      g_print ("\n");
    return TRUE;
  }

  if (!JSON_NODE_HOLDS_OBJECT (root) ||
      (cameras_node = json_object_get_member (json_node_get_object (root), "cameras")) == NULL ||
      !JSON_NODE_HOLDS_ARRAY (cameras_node)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "the gateway's camera list has no “cameras” array");
    return FALSE;
  }
  cameras = json_node_get_array (cameras_node);

  for (i = 0; i < json_array_get_length (cameras); i++) {
    JsonNode *node = json_array_get_element (cameras, i);
    JsonObject *obj;
    const char *s;
    double w, h, fps;
    char **row;

    if (!JSON_NODE_HOLDS_OBJECT (node))
      continue;
    obj = json_node_get_object (node);
    row = g_new0 (char *, G_N_ELEMENTS (headers) + 1);
    row[0] = g_strdup ((s = hearth_json_get_string (obj, "id")) ? s : "-");
    row[1] = g_strdup ((s = hearth_json_get_string (obj, "name")) ? s : "-");
    row[2] = g_strdup ((s = hearth_json_get_string (obj, "state")) ? s : "-");
    row[3] = g_strdup ((s = hearth_json_get_string (obj, "codec")) ? s : "-");
    if (hearth_display_json_get_number (obj, "width", &w) &&
        hearth_display_json_get_number (obj, "height", &h))
      row[4] = g_strdup_printf ("%.0fx%.0f", w, h);
    else
      row[4] = g_strdup ("-");
    if (hearth_display_json_get_number (obj, "fps", &fps))
      row[5] = g_strdup_printf ("%.4g", fps);
    else
      row[5] = g_strdup ("-");
    g_ptr_array_add (rows, row);
  }

  for (c = 0; c < G_N_ELEMENTS (headers); c++) {
    widths[c] = strlen (headers[c]);
    for (i = 0; i < rows->len; i++) {
      char **row = g_ptr_array_index (rows, i);

      widths[c] = MAX (widths[c], (guint) g_utf8_strlen (row[c], -1));
    }
  }

  for (c = 0; c < G_N_ELEMENTS (headers); c++) {
    if (c + 1 < G_N_ELEMENTS (headers))
      print_padded (headers[c], widths[c] + 2);
    else
      g_print ("%s\n", headers[c]);
  }
  for (i = 0; i < rows->len; i++) {
    char **row = g_ptr_array_index (rows, i);

    for (c = 0; c < G_N_ELEMENTS (headers); c++) {
      if (c + 1 < G_N_ELEMENTS (headers))
        print_padded (row[c], widths[c] + 2);
      else
        g_print ("%s\n", row[c]);
    }
  }
  return TRUE;
}
