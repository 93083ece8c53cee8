/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthCamera: one adopted camera's ingest and its state machine.
 *
 * The daemon creates a camera per adopted camera and starts it. Each run
 * builds a GStreamer pipeline that ends in mp4mux (fragmented, one fragment
 * per frame) and an appsink:
 *
 *   rtsp://, rtsps://  rtspsrc ! rtph264depay ! h264parse ! mp4mux ! appsink
 *                   or rtspsrc ! rtph265depay ! h265parse ! mp4mux ! appsink
 *    and if it sends AAC rtspsrc ! rtpmp4gdepay ! aacparse ! mp4mux
 *                   or rtspsrc ! rtpmp4adepay ! aacparse ! mp4mux
 *   with a source func (a plugin's build_source, e.g. synthetic:)
 *                      SOURCE ! h264parse ! mp4mux ! appsink
 *
 * and begins a new generation of the camera's HearthStream. The pipeline is
 * built from constant descriptions plus properties: a URL never becomes part
 * of a launch line, and credentials (hearth_camera_set_credentials(), else
 * the URL's) go to rtspsrc's user-id/user-pw, never into a log or an error
 * message.
 *
 * Video (camera-pipeline.c) is passed through, never transcoded: for RTSP
 * the depayloader and parser are chosen by the codec of rtspsrc's pad, and
 * the src caps of the capsfilter named "video" in front of the muxer are
 * what hearth_camera_get_video_info() reports. Video that changes inside a
 * run (invariant 6) replaces the muxer on the streaming thread; the appsink
 * then sees a new ftyp+moov after fragments, and handle_sample() starts a
 * new generation of the stream with that init segment: readers of the
 * old one end as on a reconnect, and nothing of it is served after. Where
 * the muxer cannot be replaced (it has audio too), the pipeline posts
 * VIDEO_CHANGED_MESSAGE and the run is started again at once, without the
 * error backoff.
 *
 * Audio (camera-audio.c): the first AAC or G.711 stream of an RTSP camera
 * is the MP4's second track, AAC passed through and G.711 transcoded to
 * AAC; other audio is not set up, and hearth_camera_get_audio_info() says
 * why. mp4mux waits for every track, so
 * audio that never comes or stops would stall the video too. The watchdog
 * asks the muxer: video waiting at its pad, none of audio, and nothing out
 * of it for AUDIO_STALL_US means the audio is to blame (a camera gone
 * altogether leaves no video waiting), and the camera is run without audio
 * from the next run on, until hearth_camera_start() again.
 *
 * Admission (invariant 5): with an admit func, each run's first output (the
 * init segment, so rtspsrc has connected and the peer's neighbour-table
 * entry is fresh) is held until the func says the camera at that address is
 * still the camera that was adopted. Refused, the run ends without a byte of
 * it in the stream, and the camera stays REFUSED until started again.
 *
 * RTSPS certificates (camera-tls.c, invariant 5 again): each rtsps:// run
 * accepts only the pinned certificate
 * (hearth_camera_set_pinned_certificate()), or without a pin the run's first
 * one, which the daemon reads at admission with
 * hearth_camera_get_peer_certificate() and records. A run whose handlers
 * refused a certificate, or held back a request that no checked certificate
 * vouched for, ends REFUSED without a retry (end_run_if_certificate_refused
 * ()), and "certificate-changed" tells the daemon about a refused one.
 *
 * Threads: everything here runs on the GMainContext the camera was created
 * on; what runs on the pipeline's threads is in camera-pipeline.c,
 * camera-tls.c and camera-audio.c. The appsink's streaming thread only wakes
 * a GSource of the current run (thread-safe g_source_set_ready_time); the
 * main context then pulls the samples, cuts them with HearthFmp4Splitter and
 * pushes the pieces into the stream. The appsink's bounded queue is the
 * back-pressure if the main context falls behind. The bus is watched on the
 * same context. rtspsrc's certificate handlers touch only the run's
 * HearthCameraTls (its own lock) and wake another GSource of the run.
 *
 * The sub stream (hearth_camera_set_sub_url()): a camera that offers a
 * second, smaller stream has a second HearthCamera for it, owned by this
 * one, with the same id, its own HearthStream (HEARTH_STREAM_SUB: its own
 * generation line, every chunk saying it is of the sub stream) and its own
 * runs, backoff and state. Everything the daemon sets or does on this
 * camera (credentials, source func, pinned certificate, admit func,
 * backoff, cache size, start, stop, refuse) is done on the sub camera too,
 * so the daemon's identity logic (cameras.c) runs once per camera and
 * covers both: the sub's runs pass the same admit func, and its
 * "certificate-changed" is emitted by this camera.
 *
 * States: CONNECTING after each (re)start, STREAMING once the run's first
 * keyframe reached the stream, OFFLINE after an error, EOS, a stall (no
 * sample for 5 s) or no video within 20 s; then a retry after a backoff that
 * doubles from min_ms to max_ms and starts over after 10 s of streaming.
 * REFUSED when the admit func said no (no retry). STOPPED after
 * hearth_camera_stop().
 */
#define G_LOG_DOMAIN "hearth-camera"

#include <string.h>

#include <gio/gio.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include "camera.h"
#include "camera-audio.h"
#include "camera-pipeline.h"
#include "camera-tls.h"
#include "error.h"
#include "fmp4.h"
#include "hearth-plugin.h"
#include "netaddr.h"

#define DEFAULT_BACKOFF_MIN_MS 500
#define DEFAULT_BACKOFF_MAX_MS 30000
#define GOP_CACHE_MAX_BYTES (8 * 1024 * 1024)
#define STALL_TIMEOUT_US (5 * G_USEC_PER_SEC)
#define CONNECT_TIMEOUT_US (20 * G_USEC_PER_SEC)
#define BACKOFF_RESET_US (10 * G_USEC_PER_SEC)
#define WATCHDOG_INTERVAL_MS 500
/* Video waiting at the muxer for audio, and nothing coming out, this long:
 * the audio does not come. */
#define AUDIO_STALL_US (3 * G_USEC_PER_SEC)
/* mp4mux pushes a few buffers per frame: about two seconds of video. */
#define APPSINK_MAX_BUFFERS 200
/* Samples handled per wake-up before yielding to other sources. */
#define MAX_SAMPLES_PER_DISPATCH 64
#define RTSP_LATENCY_MS 100

#define MUX_DESCRIPTION MUXER_DESCRIPTION " ! appsink name=sink"

/* After rtspsrc: the codec's head (camera-pipeline.c) is linked to it on
 * pad-added. */
static const char rtsp_ingest_description[] =
  "capsfilter name=video caps=\"" H264_CAPS "; " H265_CAPS "\" ! "
  MUX_DESCRIPTION;

/* After a source func's element: it gives H.264 in any stream format. */
static const char source_ingest_description[] =
  "h264parse name=video config-interval=-1 ! " H264_CAPS " ! "
  MUX_DESCRIPTION;

enum {
  SIGNAL_STATE_CHANGED,
  SIGNAL_CERTIFICATE_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/*
 * One ingest run: its pipeline and sources, the generation of the stream it
 * feeds, and what it found out (admission, video and audio). A restart is a
 * new run, and a run that is over is a different object from the current
 * one (self->run): its sources are destroyed with it, and the code that may
 * end a run under itself (the admit func, state-changed handlers) holds a
 * reference and compares.
 */
typedef struct {
  grefcount ref;
  GstElement *pipeline;   /* (nullable) until built */
  GstElement *appsink;
  GstElement *video;      /* its src caps: the video the muxer gets */
  GstElement *ingest;     /* our own elements: the muxer is "mux" */
  GSource *bus_source;
  GSource *wake_source;   /* woken by the streaming thread */
  GSource *watchdog_source;
  HearthCameraTls *tls;   /* (nullable) rtsps:// runs only */
  GSource *tls_source;    /* (nullable) woken when a certificate is refused */
  char *peer_certificate; /* (nullable) copy of tls->seen, for the getter */
  HearthFmp4Splitter *splitter;
  guint64 generation;     /* of the stream, for this run's current muxer */
  guint n_inits;          /* init segments of this run: one per muxer */
  gboolean admitted;      /* this run passed the admit func (or has none) */
  gint64 started_us;
  gint64 last_sample_us;
  gboolean run_audio;     /* this run asked the muxer for an audio track */
  const char *audio_codec; /* static string; from the run's init segment */
  const char *audio_source; /* static string: what the camera sends, "aac",
                             * "pcma" or "pcmu" (transcoded); NULL: none */
  gint64 audio_wait_us;   /* since when the muxer waits for audio; 0: not */
  gboolean have_video_info;
  const char *codec;      /* static string */
  int width;
  int height;
  double fps;
} CameraRun;

struct _HearthCamera {
  GObject parent_instance;

  char *id;
  char *url;              /* may hold credentials: never logged */
  char *safe_url;         /* for people: credentials redacted */
  char *user;             /* (nullable) set_credentials(); wiped when freed */
  char *password;         /* (nullable) ditto; never logged */
  char *pinned_certificate; /* (nullable) SHA-256, 64 lower-case hex */
  HearthCameraSourceFunc source_func; /* (nullable): rtspsrc */

  HearthCameraAdmitFunc admit_func;   /* (nullable) */
  gpointer admit_data;
  GDestroyNotify admit_destroy;
  GMainContext *context;  /* the camera lives here; all its sources too */
  HearthStream *stream;
  gsize stream_gop_cache_bytes;

  guint backoff_min_ms;
  guint backoff_max_ms;
  guint backoff_ms;       /* the next retry's delay */

  HearthCameraState state;
  char *last_error;       /* (nullable) redacted */
  gboolean running;       /* between start and stop */
  char *logged_error;     /* (nullable) the failure already logged */

  CameraRun *run;         /* (nullable) the current run */
  gint64 streaming_since_us;

  GSource *retry_source;  /* (nullable) */

  /* Audio: why it is off for this camera (until started again), and what
   * the latest run ignored. */
  char *audio_off;        /* (nullable) */
  char *audio_ignored;    /* (nullable) the run's camera audio not taken */
  char *logged_audio;     /* (nullable) the audio_ignored already logged */
  const char *logged_audio_source; /* (nullable) static: the transcode
                                    * already logged */

  HearthCamera *sub;      /* (nullable) (owned) the sub stream's ingest */
};

G_DEFINE_TYPE (HearthCamera, hearth_camera, G_TYPE_OBJECT)

static void start_run (HearthCamera *self);
static gboolean end_run_if_certificate_refused (HearthCamera *self);

/* ---- credentials ---- */

/* A string that held a secret: overwritten before its memory goes back. */
typedef char HearthSecret;

static void
secret_free (HearthSecret *secret)
{
  if (secret != NULL) {
    explicit_bzero (secret, strlen (secret));
    g_free (secret);
  }
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthSecret, secret_free)

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
  if (self->password != NULL && self->password[0] != '\0')
    g_string_replace (out, self->password, "***", 0);
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

static gboolean
has_prefix_nocase (const char *s, const char *prefix)
{
  return g_ascii_strncasecmp (s, prefix, strlen (prefix)) == 0;
}

/* ---- pipelines ---- */

static GstElement *
build_rtsp_pipeline (HearthCamera *self, CameraRun *run,
                     GstElement **ingest_out, GError **error)
{
  g_autoptr(GstElement) pipeline = NULL;
  g_autofree char *location = NULL;
  g_autoptr(HearthSecret) url_user = NULL;
  g_autoptr(HearthSecret) url_password = NULL;
  g_autoptr(HearthCameraTls) tls = NULL;
  const char *user, *password;
  GstElement *src, *ingest;
  GError *parse_error = NULL;

  if (!parse_rtsp_url (self->url, &location, &url_user, &url_password, error))
    return NULL;
  /* Credentials set apart from the URL win over the URL's own. */
  user = self->user != NULL ? self->user : url_user;
  password = self->user != NULL ? self->password : url_password;

  src = gst_element_factory_make ("rtspsrc", NULL);
  if (src == NULL) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                         "GStreamer has no rtspsrc element "
                         "(gstreamer1.0-plugins-good)");
    return NULL;
  }

  pipeline = gst_object_ref_sink (gst_pipeline_new (NULL));
  gst_bin_add (GST_BIN (pipeline), src);
  /* Kept to see, at admission, whether the camera redirected us. */
  g_object_set_data_full (G_OBJECT (pipeline), "hearth-location", g_strdup (location),
                          g_free);
  g_object_set_data (G_OBJECT (pipeline), "hearth-rtspsrc", src);

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

  if (has_prefix_nocase (location, "rtsps://")) {
    tls = hearth_camera_tls_new (self->pinned_certificate);
    hearth_camera_tls_connect (src, tls);
  }

  /* Read by select-stream on rtspsrc's thread: set before it starts. */
  hearth_camera_audio_prepare (ingest, self->audio_off);
  hearth_camera_connect_rtspsrc (src, ingest);

  g_assert (run->tls == NULL);
  run->tls = g_steal_pointer (&tls);
  *ingest_out = gst_object_ref (ingest);
  return g_steal_pointer (&pipeline);
}

/* The source func's element, then the muxing tail. */
static GstElement *
build_source_pipeline (HearthCamera *self, GstElement **ingest_out,
                       GError **error)
{
  g_autoptr(GstElement) pipeline = NULL;
  g_autoptr(GstPad) src_pad = NULL;
  g_autoptr(GstPad) sink_pad = NULL;
  GstElement *source, *ingest;
  GError *parse_error = NULL;

  source = self->source_func (self->url, error);
  if (source == NULL) {
    if (error != NULL && *error == NULL)
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                           "The camera's plugin built no source");
    return NULL;
  }
  pipeline = gst_object_ref_sink (gst_pipeline_new (NULL));
  gst_bin_add (GST_BIN (pipeline), source);

  ingest = gst_parse_bin_from_description_full (source_ingest_description,
                                                TRUE, NULL,
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

  src_pad = gst_element_get_static_pad (source, "src");
  sink_pad = gst_element_get_static_pad (ingest, "sink");
  if (src_pad == NULL) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                         "The camera's plugin built a source without a "
                         "\"src\" pad");
    return NULL;
  }
  if (GST_PAD_LINK_FAILED (gst_pad_link (src_pad, sink_pad))) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                         "The camera's plugin built a source that gives no "
                         "H.264");
    return NULL;
  }

  *ingest_out = gst_object_ref (ingest);
  return g_steal_pointer (&pipeline);
}

/* The run's pipeline, and in @ingest (transfer full) the bin holding our
 * own "video" and sink elements: they are looked up there, never in the whole
 * pipeline, where a plugin's elements could carry the same names. Returns
 * NULL with HEARTH_ERROR_INVALID or HEARTH_PLUGIN_ERROR_INVALID for a URL no
 * retry can fix. */
static GstElement *
build_pipeline (HearthCamera *self, CameraRun *run, GstElement **ingest,
                GError **error)
{
  if (self->source_func != NULL)
    return build_source_pipeline (self, ingest, error);
  if (has_prefix_nocase (self->url, "rtsp://") ||
      has_prefix_nocase (self->url, "rtsps://"))
    return build_rtsp_pipeline (self, run, ingest, error);

  g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                       "The camera URL is not rtsp:// or rtsps://, and no "
                       "plugin builds its source");
  return NULL;
}

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
clear_video_info (CameraRun *run)
{
  run->have_video_info = FALSE;
  run->codec = NULL;
  run->audio_codec = NULL;
  run->width = run->height = 0;
  run->fps = 0.0;
}

static CameraRun *
camera_run_ref (CameraRun *run)
{
  g_ref_count_inc (&run->ref);
  return run;
}

static void
camera_run_unref (CameraRun *run)
{
  if (g_ref_count_dec (&run->ref))
    g_free (run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CameraRun, camera_run_unref)

/* Stops and drops the current run's pipeline; no callback of it runs after. */
static void
teardown_run (HearthCamera *self)
{
  g_autoptr(CameraRun) run = g_steal_pointer (&self->run);

  if (run == NULL)
    return;
  destroy_source (&run->watchdog_source);
  destroy_source (&run->bus_source);

  if (run->pipeline != NULL) {
    /* Joins the streaming threads: no wake-up can come after this. */
    gst_element_set_state (run->pipeline, GST_STATE_NULL);
  }
  destroy_source (&run->wake_source);
  destroy_source (&run->tls_source);
  g_clear_pointer (&run->tls, hearth_camera_tls_unref);
  g_clear_pointer (&run->peer_certificate, g_free);

  gst_clear_object (&run->appsink);
  gst_clear_object (&run->video);
  gst_clear_object (&run->ingest);
  gst_clear_object (&run->pipeline);
  g_clear_pointer (&run->splitter, hearth_fmp4_splitter_free);
}

/* A stale run is another object than the current one. */
static gboolean
run_is_current (HearthCamera *self, CameraRun *run)
{
  return self->run == run;
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
  g_autofree char *safe_reason = NULL;
  gint64 now = g_get_monotonic_time ();

  /* rtspsrc's error after a refused handshake may come before the wake-up:
   * the refusal wins either way. */
  if (end_run_if_certificate_refused (self))
    return;
  safe_reason = redact_for_camera (self, reason);

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

  /* Its readers are finished; they are woken later, from the main loop. */
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

/*
 * Ends the current run because the admit func refused it: nothing of the run
 * reached the stream, and no retry follows (a retry would reach the same
 * device). The gate's owner decided, so it logs and audits; here it is only
 * a debug line.
 */
static void
refuse_run (HearthCamera *self, const char *reason)
{
  g_autofree char *safe_reason =
    redact_for_camera (self, reason != NULL && reason[0] != '\0'
                       ? reason : "Refused by the gateway");

  g_object_ref (self);

  self->running = FALSE;
  destroy_source (&self->retry_source);
  teardown_run (self);
  g_free (self->last_error);
  self->last_error = g_strdup (safe_reason);
  /* A later start logs its failures afresh. */
  g_clear_pointer (&self->logged_error, g_free);
  g_debug ("Camera %s: refused: %s", self->id, safe_reason);

  hearth_stream_end (self->stream);
  set_state (self, HEARTH_CAMERA_REFUSED);

  g_object_unref (self);
}

/*
 * Ends the current run as REFUSED if it refused its peer's TLS certificate,
 * or held its requests back because no certificate was checked against the
 * pin; then, for a refused certificate, emits "certificate-changed" (the
 * daemon quarantines the camera and says so in its log). TRUE if it did.
 */
static gboolean
end_run_if_certificate_refused (HearthCamera *self)
{
  g_autofree char *seen = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *reason = NULL;
  CameraRun *run = self->run;
  gboolean unchecked;

  if (run == NULL || run->tls == NULL)
    return FALSE;
  g_mutex_lock (&run->tls->lock);
  seen = g_strdup (run->tls->refused);
  expected = g_strdup (run->tls->pin != NULL ? run->tls->pin
                                              : run->tls->seen);
  unchecked = run->tls->unchecked;
  g_mutex_unlock (&run->tls->lock);

  if (seen != NULL) {
    reason = g_strdup_printf ("its TLS certificate changed (SHA-256 %.16s…, "
                              "not %.16s…)", seen, expected);
  } else if (unchecked) {
    reason = g_strdup ("its TLS certificate could not be checked against "
                       "the pinned one (no request was sent)");
  } else {
    return FALSE;
  }

  g_object_ref (self);
  refuse_run (self, reason);
  if (seen != NULL)
    g_signal_emit (self, signals[SIGNAL_CERTIFICATE_CHANGED], 0, seen);
  g_object_unref (self);
  return TRUE;
}

/* On the main context, woken by a certificate handler. */
static gboolean
on_certificate_refused (gpointer user_data)
{
  end_run_if_certificate_refused (user_data);
  return G_SOURCE_CONTINUE;
}

/*
 * Ends the current run as REFUSED if rtspsrc followed an RTSP redirect away
 * from the camera's own URL. The redirect's target was dialled only if the
 * egress gate (egress.c) found it local; either way Hearth does not stream
 * from an address other than the one that was adopted. TRUE if it did.
 */
static gboolean
refuse_run_if_redirected (HearthCamera *self)
{
  GObject *src;
  const char *expected;
  g_autofree char *location = NULL;
  g_autofree char *reason = NULL;
  CameraRun *run = self->run;

  if (run == NULL || run->pipeline == NULL)
    return FALSE;
  src = g_object_get_data (G_OBJECT (run->pipeline), "hearth-rtspsrc");
  expected = g_object_get_data (G_OBJECT (run->pipeline), "hearth-location");
  if (src == NULL)
    return FALSE;
  g_object_get (src, "location", &location, NULL);
  if (g_strcmp0 (location, expected) == 0)
    return FALSE;
  reason = g_strdup_printf ("the camera redirected its stream to another address "
                            "(%s); Hearth does not follow redirects",
                            location != NULL ? location : "none");
  refuse_run (self, reason);
  return TRUE;
}

/* Asks the admit func about the current run, once per run, before the
 * first byte of it goes into the stream. TRUE: go on pushing. The caller
 * holds @run. */
static gboolean
admit_run (HearthCamera *self, CameraRun *run)
{
  g_autofree char *reason = NULL;
  gboolean admitted;

  if (run->admitted)
    return TRUE;
  if (self->admit_func == NULL) {
    run->admitted = TRUE;
    return TRUE;
  }
  /* The gate vouches for the address it checks: a camera that sent us
   * elsewhere (an RTSP redirect) is not let through. */
  if (refuse_run_if_redirected (self))
    return FALSE;

  g_object_ref (self);
  admitted = self->admit_func (self, &reason, self->admit_data);
  /* The func may have stopped or restarted us: then this run is over. */
  if (!run_is_current (self, run)) {
    g_object_unref (self);
    return FALSE;
  }
  if (admitted)
    run->admitted = TRUE;
  else
    refuse_run (self, reason);
  g_object_unref (self);
  return admitted;
}

/* What the run's init segment holds besides video: AAC is "mp4a". */
static void
read_audio_info (CameraRun *run, GBytes *init)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (init, &len);
  char entry[5];

  if (hearth_fmp4_init_get_audio_sample_entry (data, len, entry))
    run->audio_codec = g_str_equal (entry, "mp4a") ? "aac" : "other";
}

static void
read_video_info (CameraRun *run)
{
  g_autoptr(GstPad) pad = NULL;
  g_autoptr(GstCaps) caps = NULL;
  const GstStructure *s;
  int num = 0, den = 0;

  if (run->video == NULL)
    return;
  pad = gst_element_get_static_pad (run->video, "src");
  if (pad != NULL)
    caps = gst_pad_get_current_caps (pad);
  if (caps == NULL || gst_caps_get_size (caps) == 0)
    return;

  s = gst_caps_get_structure (caps, 0);
  if (gst_structure_has_name (s, "video/x-h264"))
    run->codec = "h264";
  else if (gst_structure_has_name (s, "video/x-h265"))
    run->codec = "h265";
  else
    return;

  if (!gst_structure_get_int (s, "width", &run->width) ||
      !gst_structure_get_int (s, "height", &run->height))
    run->width = run->height = 0;
  if (gst_structure_get_fraction (s, "framerate", &num, &den) && den > 0)
    run->fps = (double) num / den;
  else
    run->fps = 0.0;
  run->have_video_info = TRUE;
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

/* Cuts one sample of @run's mp4mux output and feeds the stream. Returns
 * FALSE once the run is over (failed, refused, or stopped by a handler of
 * its state). The caller holds @run. */
static gboolean
handle_sample (HearthCamera *self, CameraRun *run, GstSample *sample)
{
  GstBuffer *buffer = gst_sample_get_buffer (sample);
  g_autoptr(GError) error = NULL;
  HearthFmp4Kind kind;
  GBytes *bytes;
  gboolean keyframe;
  GstMapInfo map;
  gboolean ok;

  if (buffer == NULL)
    return TRUE;

  run->last_sample_us = g_get_monotonic_time ();

  /* The splitter copies what it keeps: read the buffer in place. */
  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    fail_run (self, "Could not read a buffer of the muxer", TRUE);
    return FALSE;
  }
  ok = hearth_fmp4_splitter_push (run->splitter, map.data, map.size, &error);
  gst_buffer_unmap (buffer, &map);
  if (!ok) {
    g_autofree char *reason =
      g_strdup_printf ("Malformed video from the camera: %s", error->message);

    fail_run (self, reason, TRUE);
    return FALSE;
  }

  /* The stream calls nobody back: only the admit func and our own
   * state-changed handlers (become_streaming) can end this run under us. */
  while (run_is_current (self, run) &&
         hearth_fmp4_splitter_pop (run->splitter, &kind, &bytes, &keyframe)) {
    guint64 generation;

    if (!admit_run (self, run)) {
      g_bytes_unref (bytes);
      break;
    }
    if (kind == HEARTH_FMP4_INIT && run->n_inits++ > 0) {
      /* A new muxer (the video changed): a new generation begins with its
       * init segment. */
      run->generation = hearth_stream_begin_generation (self->stream);
      clear_video_info (run);
      generation = run->generation;
      if (hearth_stream_push_init (self->stream, generation, bytes)) {
        read_video_info (run);
        read_audio_info (run, bytes);
        g_message ("Camera %s: the video changed to %s %dx%d; a new stream "
                   "generation (%" G_GUINT64_FORMAT ") began with it",
                   self->id, run->codec, run->width, run->height,
                   generation);
      }
    } else if (kind == HEARTH_FMP4_INIT) {
      if (hearth_stream_push_init (self->stream, run->generation, bytes)) {
        read_video_info (run);
        read_audio_info (run, bytes);
      }
    } else if (kind == HEARTH_FMP4_AUDIO) {
      hearth_stream_push_audio (self->stream, run->generation, bytes);
    } else if (hearth_stream_push_fragment (self->stream, run->generation, bytes,
                                            keyframe) &&
               keyframe && self->state != HEARTH_CAMERA_STREAMING) {
      become_streaming (self);
    }
    g_bytes_unref (bytes);
  }

  return run_is_current (self, run);
}

/* On the main context, woken by the streaming thread. */
static gboolean
on_samples_ready (gpointer user_data)
{
  HearthCamera *self = user_data;
  /* The run whose source this is (destroyed with it): a new generation
   * inside the run does not end the loop, a new run does. */
  g_autoptr(CameraRun) run = camera_run_ref (self->run);
  guint n;

  g_object_ref (self);
  for (n = 0; n < MAX_SAMPLES_PER_DISPATCH; n++) {
    g_autoptr(GstSample) sample = NULL;

    if (!run_is_current (self, run))
      break;
    sample = gst_app_sink_try_pull_sample (GST_APP_SINK (run->appsink), 0);
    if (sample == NULL)
      break;
    if (!handle_sample (self, run, sample))
      break;
  }
  /* Maybe more waiting: come back after the other sources had a turn. */
  if (n == MAX_SAMPLES_PER_DISPATCH && run_is_current (self, run))
    g_source_set_ready_time (run->wake_source, 0);
  g_object_unref (self);

  return G_SOURCE_CONTINUE;
}

/*
 * The next runs take no audio, until hearth_camera_start(): the audio
 * stalled the muxer (@error NULL), or a run with audio failed with @error
 * before its first keyframe (its audio may be what failed: AAC the
 * depayloader cannot read, say; a camera that was merely unreachable loses
 * its audio too, which beats never showing its video).
 */
static void
turn_audio_off (HearthCamera *self, const char *error)
{
  g_autofree char *safe = error != NULL ? redact_for_camera (self, error) : NULL;

  g_free (self->audio_off);
  if (safe == NULL)
    self->audio_off = g_strdup ("AAC audio stopped coming while video came; "
                                "video only until the camera is restarted");
  else
    self->audio_off = g_strdup_printf ("the stream failed with AAC audio "
                                       "before any video (%s); video only "
                                       "until the camera is restarted", safe);
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *message, gpointer user_data)
{
  HearthCamera *self = user_data;
  /* The bus watch is the current run's: destroyed with it. */
  CameraRun *run = self->run;

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
    /* A connection refused after a redirect is the redirect's fault. */
    if (refuse_run_if_redirected (self))
      break;
    if (run->run_audio && self->state != HEARTH_CAMERA_STREAMING)
      turn_audio_off (self, error->message);
    /* rtspsrc says a 401 after its credentials (or without any) as
     * RESOURCE NOT_AUTHORIZED; people are told what to fix. */
    if (g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED))
      fail_run (self, HEARTH_CAMERA_NOT_AUTHORIZED, TRUE);
    else
      fail_run (self, error->message, TRUE);
    break;
  }
  case GST_MESSAGE_EOS:
    fail_run (self, "The camera ended the stream", TRUE);
    break;
  case GST_MESSAGE_ELEMENT: {
    g_autofree char *codec = NULL;
    g_autofree char *source = NULL;
    g_autofree char *ignored = NULL;

    if (!hearth_camera_audio_parse_message (message, &codec, &source,
                                            &ignored))
      break;
    if (codec != NULL) {
      run->run_audio = TRUE;
      run->audio_source = g_strcmp0 (source, "pcma") == 0 ? "pcma"
                        : g_strcmp0 (source, "pcmu") == 0 ? "pcmu" : "aac";
      if (g_strcmp0 (run->audio_source, self->logged_audio_source) != 0) {
        if (!g_str_equal (run->audio_source, "aac"))
          g_message ("Camera %s: %s (G.711) audio, transcoded to AAC",
                     self->id, run->audio_source);
        self->logged_audio_source = run->audio_source;
      }
    }
    if (ignored != NULL) {
      /* Logged once per change, not once per run. */
      if (g_strcmp0 (ignored, self->logged_audio) != 0) {
        g_message ("Camera %s: audio ignored: %s", self->id, ignored);
        g_free (self->logged_audio);
        self->logged_audio = g_strdup (ignored);
      }
      g_free (self->audio_ignored);
      self->audio_ignored = g_steal_pointer (&ignored);
    }
    break;
  }
  case GST_MESSAGE_APPLICATION:
    if (gst_message_has_name (message, VIDEO_CHANGED_MESSAGE)) {
      /* See on_video_data(): at once, not after a backoff. */
      g_message ("Camera %s: the video changed; starting its ingest again",
                 self->id);
      teardown_run (self);
      start_run (self);
    }
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

/* The run's muxer, looked up each time: a changed video replaces it. */
static gboolean
audio_is_awaited (CameraRun *run)
{
  g_autoptr(GstElement) mux = gst_bin_get_by_name (GST_BIN (run->ingest),
                                                   "mux");

  return mux != NULL && hearth_camera_audio_is_awaited (mux);
}

static gboolean
on_watchdog (gpointer user_data)
{
  HearthCamera *self = user_data;
  CameraRun *run = self->run;   /* the watchdog is the run's */
  gint64 now = g_get_monotonic_time ();

  if (run->run_audio && audio_is_awaited (run)) {
    if (run->audio_wait_us == 0)
      run->audio_wait_us = now;
  } else {
    run->audio_wait_us = 0;
  }

  if (run->audio_wait_us != 0 && now - run->audio_wait_us > AUDIO_STALL_US &&
      now - run->last_sample_us > AUDIO_STALL_US) {
    turn_audio_off (self, NULL);
    fail_run (self, "The camera's audio stalled the stream; going on "
              "without audio", TRUE);
  } else if (self->state == HEARTH_CAMERA_CONNECTING &&
      now - run->started_us > CONNECT_TIMEOUT_US) {
    fail_run (self, "No video from the camera within 20 s", TRUE);
  } else if (self->state == HEARTH_CAMERA_STREAMING &&
             now - run->last_sample_us > STALL_TIMEOUT_US) {
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
  g_autoptr(GstElement) ingest = NULL;
  GstAppSinkCallbacks callbacks = {
    .new_sample = hearth_camera_on_new_sample
  };
  GstStateChangeReturn ret;
  GstElement *pipeline;
  CameraRun *run;

  g_assert (self->run == NULL);

  run = self->run = g_new0 (CameraRun, 1);
  g_ref_count_init (&run->ref);
  run->generation = hearth_stream_begin_generation (self->stream);
  g_clear_pointer (&self->audio_ignored, g_free);

  pipeline = build_pipeline (self, run, &ingest, &error);
  if (pipeline == NULL) {
    /* A URL no retry can fix. */
    fail_run (self, error->message,
              !g_error_matches (error, HEARTH_ERROR, HEARTH_ERROR_INVALID) &&
              !g_error_matches (error, HEARTH_PLUGIN_ERROR,
                                HEARTH_PLUGIN_ERROR_INVALID));
    return;
  }

  run->pipeline = pipeline;
  run->appsink = gst_bin_get_by_name (GST_BIN (ingest), "sink");
  run->video = gst_bin_get_by_name (GST_BIN (ingest), "video");
  run->ingest = g_object_ref (ingest);
  g_assert (run->appsink != NULL && run->video != NULL);
  hearth_camera_watch_video (ingest);
  run->splitter = hearth_fmp4_splitter_new ();
  run->started_us = run->last_sample_us = g_get_monotonic_time ();

  run->wake_source =
    g_source_new ((GSourceFuncs *) &hearth_camera_wake_source_funcs,
                  sizeof (GSource));
  g_source_set_priority (run->wake_source, G_PRIORITY_DEFAULT);
  attach_source (self, run->wake_source, on_samples_ready);
  if (run->tls != NULL) {
    /* Before any handler can run: the pipeline has not started. */
    run->tls_source =
      g_source_new ((GSourceFuncs *) &hearth_camera_wake_source_funcs,
                    sizeof (GSource));
    run->tls->wake = g_source_ref (run->tls_source);
    attach_source (self, run->tls_source, on_certificate_refused);
  }

  g_object_set (run->appsink,
                "sync", FALSE,
                "emit-signals", FALSE,
                "drop", FALSE,
                "max-buffers", (guint) APPSINK_MAX_BUFFERS,
                "enable-last-sample", FALSE,
                NULL);
  gst_app_sink_set_callbacks (GST_APP_SINK (run->appsink), &callbacks,
                              g_source_ref (run->wake_source),
                              (GDestroyNotify) g_source_unref);

  bus = gst_element_get_bus (pipeline);
  run->bus_source = gst_bus_create_watch (bus);
  attach_source (self, run->bus_source, G_SOURCE_FUNC (on_bus_message));
  run->watchdog_source = g_timeout_source_new (WATCHDOG_INTERVAL_MS);
  attach_source (self, run->watchdog_source, on_watchdog);

  g_debug ("Camera %s: starting %s (generation %" G_GUINT64_FORMAT ")",
           self->id, self->safe_url, run->generation);

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
  if (self->sub != NULL)
    g_signal_handlers_disconnect_by_data (self->sub, self);
  g_clear_object (&self->sub);
  destroy_source (&self->retry_source);
  teardown_run (self);
  if (self->stream != NULL)
    hearth_stream_end (self->stream);
  g_clear_object (&self->stream);
  /* The gate's data may hold what holds us. */
  hearth_camera_set_admit_func (self, NULL, NULL, NULL);

  G_OBJECT_CLASS (hearth_camera_parent_class)->dispose (object);
}

static void
hearth_camera_finalize (GObject *object)
{
  HearthCamera *self = HEARTH_CAMERA (object);

  g_free (self->id);
  g_free (self->url);
  g_free (self->safe_url);
  secret_free (self->user);
  secret_free (self->password);
  g_free (self->pinned_certificate);
  g_free (self->last_error);
  g_free (self->logged_error);
  g_free (self->audio_off);
  g_free (self->audio_ignored);
  g_free (self->logged_audio);
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

  /**
   * HearthCamera::certificate-changed:
   * @seen_sha256_hex: the SHA-256 of the certificate the camera presented
   *   (64 lower-case hex), which was not the pinned one (or, without a pin,
   *   not the one it presented first in the same run)
   *
   * On the camera's main context, once per refused run, after the run ended
   * and the state became REFUSED (no retry). The camera logs nothing about
   * it but a debug line: the handler decides (quarantine) and logs.
   */
  signals[SIGNAL_CERTIFICATE_CHANGED] =
    g_signal_new ("certificate-changed", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
hearth_camera_init (HearthCamera *self)
{
  self->backoff_min_ms = DEFAULT_BACKOFF_MIN_MS;
  self->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
  self->backoff_ms = DEFAULT_BACKOFF_MIN_MS;
  self->stream_gop_cache_bytes = GOP_CACHE_MAX_BYTES;
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
  case HEARTH_CAMERA_REFUSED:
    return "refused";
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

/* A camera of @kind (see hearth_camera_new()). */
static HearthCamera *
camera_new (const char *id, const char *url, HearthStreamKind kind)
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
  self->stream = hearth_stream_new_kind (id, kind, GOP_CACHE_MAX_BYTES);
  return self;
}

/**
 * hearth_camera_new:
 * @id: the camera's UUID
 * @url: rtsp:// or rtsps://, or any URL a source func takes (validated by
 *   the caller)
 *
 * The camera lives on the thread-default main context of the caller; GStreamer
 * must be initialised. It does nothing until hearth_camera_start().
 *
 * Returns: (transfer full): a stopped camera
 */
HearthCamera *
hearth_camera_new (const char *id, const char *url)
{
  return camera_new (id, url, HEARTH_STREAM_MAIN);
}

static void
on_sub_certificate_changed (HearthCamera *sub, const char *seen, gpointer user_data)
{
  g_signal_emit (user_data, signals[SIGNAL_CERTIFICATE_CHANGED], 0, seen);
}

/**
 * hearth_camera_set_sub_url:
 * @url: (nullable): the camera's second, smaller stream (validated by the
 *   caller as the main URL is); NULL: none
 *
 * Gives the camera a sub stream ingest (see the top of this file) with
 * everything set on this camera so far; it starts and stops with it. Set it
 * before hearth_camera_start().
 */
void
hearth_camera_set_sub_url (HearthCamera *self, const char *url)
{
  g_return_if_fail (HEARTH_IS_CAMERA (self));
  g_return_if_fail (hearth_stream_get_kind (self->stream) == HEARTH_STREAM_MAIN);

  if (self->sub != NULL) {
    g_signal_handlers_disconnect_by_data (self->sub, self);
    hearth_camera_stop (self->sub);
    g_clear_object (&self->sub);
  }
  if (url == NULL)
    return;
  self->sub = camera_new (self->id, url, HEARTH_STREAM_SUB);
  self->sub->source_func = self->source_func;
  hearth_camera_set_credentials (self->sub, self->user, self->password);
  hearth_camera_set_pinned_certificate (self->sub, self->pinned_certificate);
  /* The func's data belongs to this camera's setting: not freed twice. */
  hearth_camera_set_admit_func (self->sub, self->admit_func, self->admit_data, NULL);
  hearth_camera_set_backoff (self->sub, self->backoff_min_ms, self->backoff_max_ms);
  hearth_stream_set_gop_cache_max_bytes (self->sub->stream, self->stream_gop_cache_bytes);
  g_signal_connect (self->sub, "certificate-changed",
                    G_CALLBACK (on_sub_certificate_changed), self);
  if (self->running)
    hearth_camera_start (self->sub);
}

/**
 * hearth_camera_get_sub:
 *
 * Returns: (transfer none) (nullable): the sub stream's ingest, if the
 *   camera has one
 */
HearthCamera *
hearth_camera_get_sub (HearthCamera *self)
{
  g_return_val_if_fail (HEARTH_IS_CAMERA (self), NULL);
  return self->sub;
}

/**
 * hearth_camera_get_kind:
 *
 * Returns: which of its camera's streams this ingest feeds
 */
HearthStreamKind
hearth_camera_get_kind (HearthCamera *self)
{
  g_return_val_if_fail (HEARTH_IS_CAMERA (self), HEARTH_STREAM_MAIN);
  return hearth_stream_get_kind (self->stream);
}

const char *
hearth_camera_get_id (HearthCamera *self)
{
  g_return_val_if_fail (HEARTH_IS_CAMERA (self), NULL);
  return self->id;
}

/**
 * hearth_camera_get_url:
 *
 * Returns: (transfer none): the URL as given to hearth_camera_new(); it may
 *   hold credentials, so it is never logged or shown
 */
const char *
hearth_camera_get_url (HearthCamera *self)
{
  g_return_val_if_fail (HEARTH_IS_CAMERA (self), NULL);
  return self->url;
}

/**
 * hearth_camera_set_source_func:
 * @func: (nullable): builds the source element for the camera's URL
 *
 * From the next run on, the pipeline is `func (url) ! h264parse ! mp4mux !
 * appsink` instead of the gateway's rtspsrc ingest. An error of @func in
 * HEARTH_PLUGIN_ERROR_INVALID (or HEARTH_ERROR_INVALID) is final; any other
 * is retried with backoff.
 */
void
hearth_camera_set_source_func (HearthCamera *self,
                               HearthCameraSourceFunc func)
{
  g_return_if_fail (HEARTH_IS_CAMERA (self));
  self->source_func = func;
  if (self->sub != NULL)
    self->sub->source_func = func;
}

/**
 * hearth_camera_set_credentials:
 * @user: (nullable): NULL: use the URL's credentials, if any
 * @password: (nullable):
 *
 * For rtspsrc's user-id and user-pw from the next run on, in place of any
 * credentials in the URL. The camera keeps copies, overwrites them when they
 * are replaced or the camera is freed, and never logs them.
 */
void
hearth_camera_set_credentials (HearthCamera *self, const char *user,
                               const char *password)
{
  g_return_if_fail (HEARTH_IS_CAMERA (self));
  g_return_if_fail (user != NULL || password == NULL);

  g_clear_pointer (&self->user, secret_free);
  g_clear_pointer (&self->password, secret_free);
  self->user = g_strdup (user);
  self->password = g_strdup (password);
  if (self->sub != NULL)
    hearth_camera_set_credentials (self->sub, user, password);
}

/**
 * hearth_camera_set_pinned_certificate:
 * @sha256_hex: (nullable): the SHA-256 of the DER of the certificate an
 *   rtsps:// camera must present, 64 lower-case hex; NULL: trust on first
 *   use (any certificate, the same one for the whole run)
 *
 * From the next run on (set it before hearth_camera_start()). A camera that
 * presents another certificate fails the TLS handshake before any RTSP
 * request: the run ends REFUSED and "certificate-changed" is emitted.
 * Nothing changes for rtsp:// URLs or a source func's.
 */
void
hearth_camera_set_pinned_certificate (HearthCamera *self,
                                      const char *sha256_hex)
{
  g_return_if_fail (HEARTH_IS_CAMERA (self));
  g_return_if_fail (sha256_hex == NULL ||
                    hearth_camera_tls_is_sha256_hex (sha256_hex));

  g_free (self->pinned_certificate);
  self->pinned_certificate = g_strdup (sha256_hex);
  if (self->sub != NULL)
    hearth_camera_set_pinned_certificate (self->sub, sha256_hex);
}

/**
 * hearth_camera_get_peer_certificate:
 *
 * On the camera's main context, e.g. in the admit func (the run has
 * connected by then).
 *
 * Returns: (nullable): the SHA-256 of the DER of the certificate the current
 *   run's peer presented and was accepted, 64 lower-case hex; NULL for
 *   rtsp:// (or a source func's) URLs, before the TLS handshake, between
 *   runs, and for a certificate GLib accepted by itself (a system CA vouched
 *   for it)
 */
const char *
hearth_camera_get_peer_certificate (HearthCamera *self)
{
  CameraRun *run;

  g_return_val_if_fail (HEARTH_IS_CAMERA (self), NULL);

  run = self->run;
  if (run == NULL)
    return NULL;
  /* tls->seen is set once per run: a copy never goes stale. */
  if (run->peer_certificate == NULL && run->tls != NULL) {
    g_mutex_lock (&run->tls->lock);
    run->peer_certificate = g_strdup (run->tls->seen);
    g_mutex_unlock (&run->tls->lock);
  }
  return run->peer_certificate;
}

/**
 * hearth_camera_set_admit_func:
 * @func: (nullable): the gate; NULL admits every run
 * @user_data: for @func
 * @destroy: (nullable): frees @user_data when the func is replaced or the
 *   camera disposed
 *
 * Applies to every run not yet admitted, the current one included.
 */
void
hearth_camera_set_admit_func (HearthCamera *self, HearthCameraAdmitFunc func,
                              gpointer user_data, GDestroyNotify destroy)
{
  GDestroyNotify old_destroy;
  gpointer old_data;

  g_return_if_fail (HEARTH_IS_CAMERA (self));

  /* Swap first: the notify may drop the last reference to something that
   * calls back into this camera. */
  old_destroy = self->admit_destroy;
  old_data = self->admit_data;
  self->admit_func = func;
  self->admit_data = user_data;
  self->admit_destroy = destroy;
  if (self->sub != NULL)
    hearth_camera_set_admit_func (self->sub, func, user_data, NULL);
  if (old_destroy != NULL)
    old_destroy (old_data);
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
 * @codec: (out) (optional): "h264" or "h265"
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
  CameraRun *run;

  g_return_val_if_fail (HEARTH_IS_CAMERA (self), FALSE);

  run = self->run;
  if (run == NULL || !run->have_video_info)
    return FALSE;
  if (codec)
    *codec = run->codec;
  if (width)
    *width = run->width;
  if (height)
    *height = run->height;
  if (fps)
    *fps = run->fps;
  return TRUE;
}

/**
 * hearth_camera_get_audio_info:
 * @codec: (out) (optional) (nullable): "aac" while the current generation's
 *   MP4 carries the camera's audio, "none" if it carries only video, NULL
 *   before its init segment
 * @source: (out) (optional) (nullable): with @codec "aac", the camera's
 *   audio it came from: "aac" (passed through), "pcma" or "pcmu" (G.711,
 *   transcoded); else NULL
 * @ignored: (out) (optional) (nullable): why the camera's audio is not
 *   taken this run (e.g. Opus), else NULL
 */
void
hearth_camera_get_audio_info (HearthCamera *self, const char **codec,
                              const char **source, const char **ignored)
{
  CameraRun *run;

  g_return_if_fail (HEARTH_IS_CAMERA (self));

  run = self->run;
  if (codec)
    *codec = run == NULL || !run->have_video_info ? NULL :
             run->audio_codec != NULL ? run->audio_codec : "none";
  if (source)
    *source = run == NULL || run->audio_codec == NULL ? NULL : run->audio_source;
  if (ignored)
    *ignored = self->audio_ignored;
}

void
hearth_camera_set_backoff (HearthCamera *self, guint min_ms, guint max_ms)
{
  g_return_if_fail (HEARTH_IS_CAMERA (self));
  g_return_if_fail (min_ms > 0 && min_ms <= max_ms);

  self->backoff_min_ms = min_ms;
  self->backoff_max_ms = max_ms;
  self->backoff_ms = min_ms;
  if (self->sub != NULL)
    hearth_camera_set_backoff (self->sub, min_ms, max_ms);
}

/* Starts ingest; a started camera keeps retrying until stopped. */
void
hearth_camera_set_gop_cache_bytes (HearthCamera *self, gsize max_bytes)
{
  g_return_if_fail (HEARTH_IS_CAMERA (self));
  self->stream_gop_cache_bytes = max_bytes;
  hearth_stream_set_gop_cache_max_bytes (self->stream, max_bytes);
  if (self->sub != NULL)
    hearth_camera_set_gop_cache_bytes (self->sub, max_bytes);
}

void
hearth_camera_refuse (HearthCamera *self, const char *reason)
{
  g_return_if_fail (HEARTH_IS_CAMERA (self));
  refuse_run (self, reason);
  if (self->sub != NULL)
    refuse_run (self->sub, reason);
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
  g_clear_pointer (&self->audio_off, g_free);
  start_run (self);
  if (self->sub != NULL)
    hearth_camera_start (self->sub);
}

void
hearth_camera_stop (HearthCamera *self)
{
  g_return_if_fail (HEARTH_IS_CAMERA (self));

  if (self->sub != NULL)
    hearth_camera_stop (self->sub);
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
