/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for HearthCamera on the default main context: a synthetic camera
 * streams (init first, then a keyframe, then a frame after frame), reports
 * its video format, and ends its subscribers when stopped or dropped; an
 * RTSP camera (gst-rtsp-server on loopback, in-process) streams with the
 * credentials from its URL, and when it stalls is restarted as a new
 * generation; an RTSP camera on a closed loopback port goes offline, retries
 * with a growing backoff, logs that once, and never shows its password.
 */
#include <string.h>

#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include "camera.h"
#include "netaddr.h"

#define CAMERA_ID "0b7e8a52-5d1f-4f0e-8f7a-00000000c4me"
#define DEADLINE_S 20

/* ---- waiting without sleeping ---- */

typedef gboolean (*Condition) (gpointer data);

static gboolean
on_deadline (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the default main context until @cond holds; FALSE after
 * @seconds. */
static gboolean
wait_for (Condition cond, gpointer data, guint seconds)
{
  gboolean expired = FALSE;
  GSource *deadline = g_timeout_source_new_seconds (seconds);

  g_source_set_callback (deadline, on_deadline, &expired, NULL);
  g_source_attach (deadline, NULL);
  while (!cond (data) && !expired)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (deadline);
  g_source_unref (deadline);
  return cond (data);
}

/* Runs whatever is ready now, without blocking. */
static void
drain_main_context (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* ---- observers ---- */

typedef struct {
  GArray *states;      /* of guint */
  GArray *times_us;    /* of gint64, when each state came */
} StateLog;

static void
on_state_changed (HearthCamera *camera, guint state, gpointer user_data)
{
  StateLog *log = user_data;
  gint64 now = g_get_monotonic_time ();

  g_assert_cmpuint (state, ==, hearth_camera_get_state (camera));
  g_array_append_val (log->states, state);
  g_array_append_val (log->times_us, now);
}

static void
state_log_init (StateLog *log, HearthCamera *camera)
{
  log->states = g_array_new (FALSE, FALSE, sizeof (guint));
  log->times_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_signal_connect (camera, "state-changed", G_CALLBACK (on_state_changed),
                    log);
}

static void
state_log_clear (StateLog *log)
{
  g_array_unref (log->states);
  g_array_unref (log->times_us);
}

static guint
state_log_count (StateLog *log, HearthCameraState state)
{
  guint n = 0;

  for (guint i = 0; i < log->states->len; i++)
    n += g_array_index (log->states, guint, i) == state;
  return n;
}

typedef struct {
  GPtrArray *chunks;
  guint n_ends;
  HearthSubscription *sub;
} Viewer;

static void
on_chunk (HearthChunk *chunk, gpointer user_data)
{
  Viewer *v = user_data;

  g_ptr_array_add (v->chunks, hearth_chunk_ref (chunk));
}

static void
on_end (gpointer user_data)
{
  Viewer *v = user_data;

  v->n_ends++;
}

static void
viewer_init (Viewer *v, HearthStream *stream)
{
  v->chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) hearth_chunk_unref);
  v->n_ends = 0;
  v->sub = hearth_stream_subscribe (stream, on_chunk, on_end, v);
}

static void
viewer_clear (Viewer *v)
{
  hearth_subscription_free (v->sub);
  g_ptr_array_unref (v->chunks);
}

/* What a display checks first: the init segment, then a keyframe, and
 * every chunk from this camera and this subscription's generation. */
static void
viewer_assert_sane (Viewer *v)
{
  g_assert_cmpuint (v->chunks->len, >=, 2);
  g_assert_true (hearth_chunk_is_init (v->chunks->pdata[0]));
  g_assert_true (hearth_chunk_is_keyframe (v->chunks->pdata[1]));
  for (guint i = 0; i < v->chunks->len; i++) {
    HearthChunk *chunk = v->chunks->pdata[i];

    g_assert_cmpstr (hearth_chunk_get_camera_id (chunk), ==,
                     hearth_subscription_get_camera_id (v->sub));
    g_assert_cmpuint (hearth_chunk_get_generation (chunk), ==,
                      hearth_subscription_get_generation (v->sub));
    g_assert_cmpuint (g_bytes_get_size (hearth_chunk_get_bytes (chunk)), >, 0);
    if (i > 0)
      g_assert_false (hearth_chunk_is_init (chunk));
  }
}

typedef struct {
  HearthCamera *camera;
  HearthCameraState state;
} StateWait;

static gboolean
camera_in_state (gpointer data)
{
  StateWait *w = data;

  return hearth_camera_get_state (w->camera) == w->state;
}

typedef struct {
  Viewer *viewer;
  guint n;
} ChunkWait;

static gboolean
viewer_has_chunks (gpointer data)
{
  ChunkWait *w = data;

  return w->viewer->chunks->len >= w->n;
}

/* ---- log capture: nothing logged may hold a password ---- */

static GLogWriterOutput
capture_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
             gpointer user_data)
{
  GPtrArray *messages = user_data;

  for (gsize i = 0; i < n_fields; i++) {
    if (g_strcmp0 (fields[i].key, "MESSAGE") == 0) {
      if (fields[i].length < 0)
        g_ptr_array_add (messages, g_strdup (fields[i].value));
      else
        g_ptr_array_add (messages, g_strndup (fields[i].value,
                                              fields[i].length));
    }
  }
  return g_log_writer_default (level, fields, n_fields, NULL);
}

/* ---- tests ---- */

static void
test_synthetic_streams (void)
{
  g_autoptr(HearthCamera) camera = hearth_camera_new (CAMERA_ID,
                                                      "synthetic:pattern=ball");
  HearthStream *stream = hearth_camera_get_stream (camera);
  StateWait streaming = { camera, HEARTH_CAMERA_STREAMING };
  Viewer early, late;
  ChunkWait enough = { &early, 0 };
  StateLog log;
  const char *codec = NULL;
  int width = 0, height = 0;
  double fps = 0;
  guint before;

  state_log_init (&log, camera);
  g_assert_cmpint (hearth_camera_get_state (camera), ==, HEARTH_CAMERA_STOPPED);
  g_assert_false (hearth_camera_get_video_info (camera, &codec, &width,
                                                &height, &fps));

  hearth_camera_start (camera);
  g_assert_cmpint (hearth_camera_get_state (camera), ==,
                   HEARTH_CAMERA_CONNECTING);
  /* Joins before anything is there: waits for init + keyframe. */
  viewer_init (&early, stream);

  g_assert_true (wait_for (camera_in_state, &streaming, DEADLINE_S));
  g_assert_null (hearth_camera_get_last_error (camera));
  g_assert_true (hearth_stream_is_ready (stream));

  /* ~30 frames a second; ask for 10 more than init + keyframe. */
  enough.n = 12;
  g_assert_true (wait_for (viewer_has_chunks, &enough, DEADLINE_S));
  viewer_assert_sane (&early);

  g_assert_true (hearth_camera_get_video_info (camera, &codec, &width,
                                               &height, &fps));
  g_assert_cmpstr (codec, ==, "h264");
  g_assert_cmpint (width, ==, 640);
  g_assert_cmpint (height, ==, 360);
  g_assert_cmpfloat_with_epsilon (fps, 30.0, 0.01);

  /* A late joiner starts from the cached GOP: init, keyframe, … */
  viewer_init (&late, stream);
  viewer_assert_sane (&late);

  /* Stop: subscribers end, and nothing comes after. */
  hearth_camera_stop (camera);
  g_assert_cmpint (hearth_camera_get_state (camera), ==, HEARTH_CAMERA_STOPPED);
  g_assert_cmpuint (early.n_ends, ==, 1);
  g_assert_cmpuint (late.n_ends, ==, 1);
  before = early.chunks->len;
  drain_main_context ();
  g_assert_cmpuint (early.chunks->len, ==, before);
  g_assert_false (hearth_stream_is_ready (stream));
  g_assert_false (hearth_camera_get_video_info (camera, NULL, NULL, NULL,
                                                NULL));

  g_assert_cmpuint (log.states->len, ==, 3);
  g_assert_cmpuint (g_array_index (log.states, guint, 0), ==,
                    HEARTH_CAMERA_CONNECTING);
  g_assert_cmpuint (g_array_index (log.states, guint, 1), ==,
                    HEARTH_CAMERA_STREAMING);
  g_assert_cmpuint (g_array_index (log.states, guint, 2), ==,
                    HEARTH_CAMERA_STOPPED);

  viewer_clear (&early);
  viewer_clear (&late);
  state_log_clear (&log);
}

/* Dropping a streaming camera cleans up everything, at once. */
static void
test_dispose_while_streaming (void)
{
  HearthCamera *camera = hearth_camera_new (CAMERA_ID, "synthetic:");
  g_autoptr(HearthStream) stream = g_object_ref (hearth_camera_get_stream (camera));
  StateWait streaming = { camera, HEARTH_CAMERA_STREAMING };
  Viewer v;
  ChunkWait some = { &v, 4 };

  hearth_camera_start (camera);
  viewer_init (&v, stream);
  g_assert_true (wait_for (camera_in_state, &streaming, DEADLINE_S));
  g_assert_true (wait_for (viewer_has_chunks, &some, DEADLINE_S));

  g_object_unref (camera);
  g_assert_cmpuint (v.n_ends, ==, 1);
  drain_main_context ();
  viewer_clear (&v);
}

typedef struct {
  HearthCamera *camera;
  StateLog *log;
} RetryWait;

/* Two retries seen, and offline again after the last. */
static gboolean
retried_twice (gpointer data)
{
  RetryWait *w = data;

  return state_log_count (w->log, HEARTH_CAMERA_CONNECTING) >= 3 &&
         hearth_camera_get_state (w->camera) == HEARTH_CAMERA_OFFLINE;
}

static guint16
closed_loopback_port (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  /* Closed again: connections are refused. */
  g_socket_close (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
test_offline_retries (gconstpointer data)
{
  GPtrArray *messages = (GPtrArray *) data;
  const char *secrets[] = { "p%40ss-w0rd", "p@ss-w0rd", "adm1n:" };
  g_autofree char *url = g_strdup_printf (
      "rtsp://adm1n:p%%40ss-w0rd@127.0.0.1:%u/live", closed_loopback_port ());
  g_autoptr(HearthCamera) camera = hearth_camera_new (CAMERA_ID, url);
  StateLog log;
  RetryWait wait = { camera, &log };
  const char *reason;
  guint first_message = messages->len, offline_messages = 0;
  guint64 expected_min_ms = 100;

  state_log_init (&log, camera);
  hearth_camera_set_backoff (camera, 100, 1000);
  hearth_camera_start (camera);
  g_assert_true (wait_for (retried_twice, &wait, DEADLINE_S));

  reason = hearth_camera_get_last_error (camera);
  g_assert_nonnull (reason);
  g_assert_cmpstr (reason, !=, "");
  g_test_message ("offline because: %s", reason);
  for (guint i = 0; i < G_N_ELEMENTS (secrets); i++)
    g_assert_null (strstr (reason, secrets[i]));
  g_assert_false (hearth_stream_is_ready (hearth_camera_get_stream (camera)));

  /* Each wait between OFFLINE and the next CONNECTING is at least the
   * backoff, which doubles (lower bounds only: a loaded machine is slow,
   * never early). */
  for (guint i = 1; i < log.states->len; i++) {
    if (g_array_index (log.states, guint, i) == HEARTH_CAMERA_CONNECTING &&
        g_array_index (log.states, guint, i - 1) == HEARTH_CAMERA_OFFLINE) {
      gint64 waited = g_array_index (log.times_us, gint64, i) -
                      g_array_index (log.times_us, gint64, i - 1);

      g_assert_cmpint (waited, >=, (gint64) expected_min_ms * 1000);
      expected_min_ms *= 2;
    }
  }
  g_assert_cmpuint (expected_min_ms, >=, 400);

  hearth_camera_stop (camera);
  g_assert_cmpint (hearth_camera_get_state (camera), ==, HEARTH_CAMERA_STOPPED);

  /* The logs say it once, not once per retry, and never the password. */
  for (guint i = first_message; i < messages->len; i++) {
    const char *message = messages->pdata[i];

    for (guint k = 0; k < G_N_ELEMENTS (secrets); k++)
      g_assert_null (strstr (message, secrets[k]));
    offline_messages += strstr (message, "is offline") != NULL;
  }
  g_assert_cmpuint (offline_messages, ==, 1);

  state_log_clear (&log);
}

/* ---- an RTSP camera in this process ---- */

#define RTSP_USER "adm1n"
#define RTSP_PASSWORD "p@ss-w0rd"
/* The same, as it is written in a URL. */
#define RTSP_USERINFO "adm1n:p%40ss-w0rd"

typedef struct {
  GstRTSPServer *server;
  guint source_id;
  guint port;
  GstElement *valve;   /* (nullable) of the latest media: closing it stalls */
  guint n_medias;
} RtspCamera;

static void
on_media_configure (GstRTSPMediaFactory *factory, GstRTSPMedia *media,
                    gpointer user_data)
{
  RtspCamera *c = user_data;
  g_autoptr(GstElement) element = gst_rtsp_media_get_element (media);

  gst_clear_object (&c->valve);
  c->valve = gst_bin_get_by_name (GST_BIN (element), "valve");
  c->n_medias++;
}

static void
rtsp_camera_start (RtspCamera *c)
{
  g_autoptr(GstRTSPMountPoints) mounts = NULL;
  g_autoptr(GstRTSPAuth) auth = gst_rtsp_auth_new ();
  g_autoptr(GstRTSPToken) token = NULL;
  g_autofree char *basic = NULL;
  GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new ();

  memset (c, 0, sizeof *c);
  c->server = gst_rtsp_server_new ();
  gst_rtsp_server_set_address (c->server, "127.0.0.1");
  gst_rtsp_server_set_service (c->server, "0");

  gst_rtsp_media_factory_set_launch (factory,
      "( videotestsrc is-live=true ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! "
      "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! "
      "valve name=valve ! rtph264pay name=pay0 pt=96 config-interval=-1 )");
  gst_rtsp_media_factory_add_role (factory, "viewer",
      GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
      GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, NULL);
  g_signal_connect (factory, "media-configure",
                    G_CALLBACK (on_media_configure), c);

  token = gst_rtsp_token_new (GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE,
                              G_TYPE_STRING, "viewer", NULL);
  basic = gst_rtsp_auth_make_basic (RTSP_USER, RTSP_PASSWORD);
  gst_rtsp_auth_add_basic (auth, basic, token);
  gst_rtsp_server_set_auth (c->server, auth);

  mounts = gst_rtsp_server_get_mount_points (c->server);
  gst_rtsp_mount_points_add_factory (mounts, "/cam", factory);

  c->source_id = gst_rtsp_server_attach (c->server, NULL);
  g_assert_cmpuint (c->source_id, !=, 0);
  c->port = (guint) gst_rtsp_server_get_bound_port (c->server);
  g_assert_cmpuint (c->port, >, 0);
}

static GstRTSPFilterResult
remove_client (GstRTSPServer *server, GstRTSPClient *client,
               gpointer user_data)
{
  return GST_RTSP_FILTER_REMOVE;
}

static void
rtsp_camera_stop (RtspCamera *c)
{
  g_source_remove (c->source_id);
  gst_rtsp_server_client_filter (c->server, remove_client, NULL);
  gst_clear_object (&c->valve);
  g_clear_object (&c->server);
  drain_main_context ();
}

static char *
rtsp_camera_url (RtspCamera *c, const char *userinfo)
{
  return g_strdup_printf ("rtsp://%s@127.0.0.1:%u/cam", userinfo, c->port);
}

/* Streams with the URL's credentials; a camera that stops sending is
 * restarted as a new generation, and its subscribers are ended. */
static void
test_rtsp_streams_and_stalls (void)
{
  RtspCamera c;
  g_autofree char *url = NULL;
  g_autoptr(HearthCamera) camera = NULL;
  StateWait streaming, offline;
  Viewer v, again;
  ChunkWait some = { &v, 5 };
  const char *codec = NULL;
  int width = 0, height = 0;
  guint64 first_generation;

  rtsp_camera_start (&c);
  url = rtsp_camera_url (&c, RTSP_USERINFO);
  camera = hearth_camera_new (CAMERA_ID, url);
  streaming = (StateWait) { camera, HEARTH_CAMERA_STREAMING };
  offline = (StateWait) { camera, HEARTH_CAMERA_OFFLINE };
  hearth_camera_set_backoff (camera, 100, 1000);

  hearth_camera_start (camera);
  viewer_init (&v, hearth_camera_get_stream (camera));
  g_assert_true (wait_for (camera_in_state, &streaming, DEADLINE_S));
  g_assert_true (wait_for (viewer_has_chunks, &some, DEADLINE_S));
  viewer_assert_sane (&v);
  g_assert_true (hearth_camera_get_video_info (camera, &codec, &width,
                                               &height, NULL));
  g_assert_cmpstr (codec, ==, "h264");
  g_assert_cmpint (width, ==, 320);
  g_assert_cmpint (height, ==, 240);
  first_generation = hearth_subscription_get_generation (v.sub);
  g_assert_cmpuint (c.n_medias, ==, 1);

  /* The camera keeps the connection but sends nothing. */
  g_object_set (c.valve, "drop", TRUE, NULL);
  g_assert_true (wait_for (camera_in_state, &offline, DEADLINE_S));
  g_assert_nonnull (strstr (hearth_camera_get_last_error (camera),
                            "stopped sending"));
  g_assert_cmpuint (v.n_ends, ==, 1);

  /* Reconnected: a new media on the camera, a new generation here. */
  g_assert_true (wait_for (camera_in_state, &streaming, DEADLINE_S));
  g_assert_cmpuint (c.n_medias, ==, 2);
  g_assert_cmpuint (hearth_stream_get_generation (hearth_camera_get_stream (camera)),
                    >, first_generation);
  viewer_init (&again, hearth_camera_get_stream (camera));
  viewer_assert_sane (&again);

  hearth_camera_stop (camera);
  viewer_clear (&v);
  viewer_clear (&again);
  rtsp_camera_stop (&c);
}

/* A wrong password: offline with a reason that does not repeat it. */
static void
test_rtsp_wrong_password (void)
{
  RtspCamera c;
  g_autofree char *url = NULL;
  g_autoptr(HearthCamera) camera = NULL;
  StateWait offline;
  const char *reason;

  rtsp_camera_start (&c);
  url = rtsp_camera_url (&c, RTSP_USER ":wr0ng-s3cret");
  camera = hearth_camera_new (CAMERA_ID, url);
  offline = (StateWait) { camera, HEARTH_CAMERA_OFFLINE };

  hearth_camera_start (camera);
  g_assert_true (wait_for (camera_in_state, &offline, DEADLINE_S));
  reason = hearth_camera_get_last_error (camera);
  g_test_message ("offline because: %s", reason);
  g_assert_nonnull (reason);
  g_assert_null (strstr (reason, "wr0ng-s3cret"));
  g_assert_cmpuint (c.n_medias, ==, 0);

  hearth_camera_stop (camera);
  rtsp_camera_stop (&c);
}

/* A URL that no retry can fix goes offline at once and says why. */
static void
test_bad_urls (void)
{
  const struct {
    const char *url;
    const char *reason;
  } cases[] = {
    { "synthetic:pattern=no-such-pattern", "pattern" },
    { "synthetic:colour=red", "option" },
    { "file:///etc/passwd", "rtsp://" },
    { "rtsp://", "URL" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr(HearthCamera) camera = hearth_camera_new (CAMERA_ID,
                                                        cases[i].url);

    hearth_camera_start (camera);
    g_assert_cmpint (hearth_camera_get_state (camera), ==,
                     HEARTH_CAMERA_OFFLINE);
    g_assert_nonnull (strstr (hearth_camera_get_last_error (camera),
                              cases[i].reason));
    hearth_camera_stop (camera);
  }
}

static void
test_redact_url (void)
{
  const struct {
    const char *in;
    const char *out;
  } cases[] = {
    { "rtsp://user:pw@10.0.0.2:554/x", "rtsp://***@10.0.0.2:554/x" },
    { "rtsps://user@[fe80::1]/s?a=b@c", "rtsps://***@[fe80::1]/s?a=b@c" },
    { "rtsp://10.0.0.2/x", "rtsp://10.0.0.2/x" },
    { "could not open rtsp://a:b@h/ and rtsp://c:d@e:1",
      "could not open rtsp://***@h/ and rtsp://***@e:1" },
    { "rtsp://us@er:p@ss@host/", "rtsp://***@host/" },
    { "no url here", "no url here" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *out = hearth_url_redact (cases[i].in);

    g_assert_cmpstr (out, ==, cases[i].out);
  }
}

int
main (int argc, char **argv)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_free);
  int ret;

  g_log_set_writer_func (capture_log, messages, NULL);
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/hearth/camera/redact-url", test_redact_url);
  g_test_add_func ("/hearth/camera/synthetic-streams", test_synthetic_streams);
  g_test_add_func ("/hearth/camera/dispose-while-streaming",
                   test_dispose_while_streaming);
  g_test_add_func ("/hearth/camera/rtsp-streams-and-stalls",
                   test_rtsp_streams_and_stalls);
  g_test_add_func ("/hearth/camera/rtsp-wrong-password",
                   test_rtsp_wrong_password);
  g_test_add_data_func ("/hearth/camera/offline-retries", messages,
                        test_offline_retries);
  g_test_add_func ("/hearth/camera/bad-urls", test_bad_urls);

  ret = g_test_run ();
  gst_deinit ();
  return ret;
}
