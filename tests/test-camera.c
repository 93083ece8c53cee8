/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for HearthCamera, each on its own main context: a synthetic camera
 * (its source from the synthetic plugin module of this build, loaded from
 * HEARTH_PLUGIN_DIR) streams (init first, then a keyframe, then a frame
 * after frame), reports its video format, and ends its subscribers when
 * stopped or dropped; an RTSP camera (gst-rtsp-server on loopback,
 * in-process) streams with the credentials from its URL or set apart from
 * it, and when it stalls is restarted as a new generation; an RTSP camera on
 * a closed loopback port goes offline, retries with a growing backoff, logs
 * that once, and never shows its password. The admission gate sees each run
 * before any byte of it is in the stream; a refused run pushes nothing, is
 * not retried and says why. An RTSPS camera (the same server with a
 * self-signed certificate) is trusted on first use and its certificate is
 * readable in the gate; pinned, it streams only with that certificate:
 * another one, at the first connection or at a reconnect, ends the run
 * REFUSED before the camera got a single request, and says so once.
 */
#include <string.h>

#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include "camera.h"
#include "camera-pipeline.h"
#include "fixture.h"
#include "fmp4.h"
#include "netaddr.h"
#include "plugins.h"

#define CAMERA_ID "0b7e8a52-5d1f-4f0e-8f7a-00000000c4me"
#define DEADLINE_S 20

/* Runs whatever is ready now, without blocking. */
static void
drain_main_context (void)
{
  while (g_main_context_iteration (g_main_context_get_thread_default (), FALSE))
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

/* A reader as the writers are: takes what is pending, then sees whether
 * its generation ended. */
static void
viewer_take (Viewer *v)
{
  HearthChunk *chunk;

  while ((chunk = hearth_subscription_next (v->sub)) != NULL)
    g_ptr_array_add (v->chunks, chunk);
  if (hearth_subscription_is_finished (v->sub) && v->n_ends == 0)
    v->n_ends++;
}

static void
on_wake (gpointer user_data)
{
  viewer_take (user_data);
}

/* How many times the viewer saw its generation end (0 or 1), looking now:
 * the end is a state of the subscription, the wake only a notice. */
static guint
viewer_ends (Viewer *v)
{
  viewer_take (v);
  return v->n_ends;
}

/* Subscribes and takes the init segment and cached GOP at once. */
static void
viewer_init (Viewer *v, HearthStream *stream)
{
  v->chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) hearth_chunk_unref);
  v->n_ends = 0;
  v->sub = hearth_stream_subscribe (stream, on_wake, v);
  viewer_take (v);
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

/* ---- cameras ---- */

/* A camera whose source the synthetic plugin builds, as the daemon makes
 * it. */
static HearthCamera *
synthetic_camera_new (HearthPlugins *plugins, const char *url)
{
  const HearthPlugin *plugin = hearth_plugins_find_for_url (plugins, url);
  HearthCamera *camera = hearth_camera_new (CAMERA_ID, url);

  g_assert_nonnull (plugin);
  g_assert_cmpstr (plugin->name, ==, "synthetic");
  hearth_camera_set_source_func (camera, plugin->build_source);
  return camera;
}

static gboolean
on_tick (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the thread-default main context for @ms, whatever happens: to
 * see that something does not come. */
static void
run_for_ms (guint ms)
{
  GMainContext *context = g_main_context_get_thread_default ();
  gint64 until = g_get_monotonic_time () + (gint64) ms * 1000;
  GSource *tick = g_timeout_source_new (10);

  g_source_set_callback (tick, on_tick, NULL, NULL);
  g_source_attach (tick, context);
  while (g_get_monotonic_time () < until)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (tick);
  g_source_unref (tick);
}

/* ---- tests ---- */

static void
test_synthetic_streams (HearthTestFixture *f, gconstpointer data)
{
  g_autoptr(HearthCamera) camera =
    synthetic_camera_new ((HearthPlugins *) data, "synthetic:pattern=ball");
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

  g_assert_true (hearth_test_wait_for (f, camera_in_state, &streaming, DEADLINE_S));
  g_assert_null (hearth_camera_get_last_error (camera));
  g_assert_true (hearth_stream_is_ready (stream));

  /* ~30 frames a second; ask for 10 more than init + keyframe. */
  enough.n = 12;
  g_assert_true (hearth_test_wait_for (f, viewer_has_chunks, &enough, DEADLINE_S));
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
  g_assert_cmpuint (viewer_ends (&early), ==, 1);
  g_assert_cmpuint (viewer_ends (&late), ==, 1);
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
test_dispose_while_streaming (HearthTestFixture *f, gconstpointer data)
{
  HearthCamera *camera = synthetic_camera_new ((HearthPlugins *) data,
                                               "synthetic:");
  g_autoptr(HearthStream) stream = g_object_ref (hearth_camera_get_stream (camera));
  StateWait streaming = { camera, HEARTH_CAMERA_STREAMING };
  Viewer v;
  ChunkWait some = { &v, 4 };

  hearth_camera_start (camera);
  viewer_init (&v, stream);
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &streaming, DEADLINE_S));
  g_assert_true (hearth_test_wait_for (f, viewer_has_chunks, &some, DEADLINE_S));

  g_object_unref (camera);
  g_assert_cmpuint (viewer_ends (&v), ==, 1);
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

static void
test_offline_retries (HearthTestFixture *f, gconstpointer data)
{
  GPtrArray *messages = (GPtrArray *) data;
  const char *secrets[] = { "p%40ss-w0rd", "p@ss-w0rd", "adm1n:" };
  g_autofree char *url = g_strdup_printf (
      "rtsp://adm1n:p%%40ss-w0rd@127.0.0.1:%u/live", hearth_test_closed_port ());
  g_autoptr(HearthCamera) camera = hearth_camera_new (CAMERA_ID, url);
  StateLog log;
  RetryWait wait = { camera, &log };
  const char *reason;
  guint first_message = messages->len, offline_messages = 0;
  guint64 expected_min_ms = 100;

  state_log_init (&log, camera);
  hearth_camera_set_backoff (camera, 100, 1000);
  hearth_camera_start (camera);
  g_assert_true (hearth_test_wait_for (f, retried_twice, &wait, DEADLINE_S));

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

/* Counted by the server's client threads; reference counted
 * (g_atomic_rc_box): a client thread may still answer a request (e.g. the
 * TEARDOWN of a stopped camera) after its test returned, so what it writes
 * is held by its own signal handler, never on a test's stack. */
typedef struct {
  guint n_clients;     /* connections accepted */
  guint n_latest_responses; /* sent to the latest connection: its requests */
} RtspCounts;

typedef struct {
  GstRTSPServer *server;
  GstRTSPAuth *auth;
  const char *scheme;  /* "rtsp", or "rtsps" with a certificate */
  guint source_id;
  guint port;
  GstElement *valve;   /* (nullable) of the latest media: closing it stalls */
  guint n_medias;
  RtspCounts *counts;
} RtspCamera;

/* Two self-signed camera certificates (ECDSA P-256, made with certtool),
 * and the SHA-256 of their DER as certtool -i says. */
#define CERT_A_SHA256 \
  "3e9173aa8c9ad5afd4da316735cb7703981017db20443edb2d5e8fcec0d99876"
#define CERT_B_SHA256 \
  "2325b2f88779a2cb8f899b500bac7a25111a3026125f50a7790b3130b2c6e088"

static const char cert_a_pem[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBfzCCASWgAwIBAgIBBzAKBggqhkjOPQQDAjAdMRswGQYDVQQDExJIZWFydGgg\n"
  "dGVzdCBjYW1lcmEwIBcNMjYxMTI2MDAxMzI4WhgPOTk5OTEyMzEyMzU5NTlaMB0x\n"
  "GzAZBgNVBAMTEkhlYXJ0aCB0ZXN0IGNhbWVyYTBZMBMGByqGSM49AgEGCCqGSM49\n"
  "AwEHA0IABE3ZFqTp1rmSMB/3RriP6HSCeXiUgsoIliNAeCTVjxqV9pKrNVHKNgW4\n"
  "8/9LEc1jxvn43V1De+Hj5g2tL/B3+UOjVDBSMAwGA1UdEwEB/wQCMAAwEwYDVR0l\n"
  "BAwwCgYIKwYBBQUHAwEwDgYDVR0PAQH/BAQDAgeAMB0GA1UdDgQWBBRsFD3AzbfT\n"
  "z7WhXMEF+3p1La+SsjAKBggqhkjOPQQDAgNIADBFAiEA4nnkukDIWb5sQzQX0UMY\n"
  "wfwGyf85w0NqncAmOIprZuICIBzER5AEWfvy9/bBrsy4VTTUPAxa+lVMvEEVZtfR\n"
  "1nWy\n"
  "-----END CERTIFICATE-----\n"
  "-----BEGIN EC PRIVATE KEY-----\n"
  "MHgCAQEEIQCBgNr/xLU4lTTaD5lvopmXXepVF8jyUbDpM2rF5AAotqAKBggqhkjO\n"
  "PQMBB6FEA0IABE3ZFqTp1rmSMB/3RriP6HSCeXiUgsoIliNAeCTVjxqV9pKrNVHK\n"
  "NgW48/9LEc1jxvn43V1De+Hj5g2tL/B3+UM=\n"
  "-----END EC PRIVATE KEY-----\n";

static const char cert_b_pem[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBgDCCASWgAwIBAgIBBzAKBggqhkjOPQQDAjAdMRswGQYDVQQDExJIZWFydGgg\n"
  "dGVzdCBjYW1lcmEwIBcNMjYxMTI2MDAxMzI4WhgPOTk5OTEyMzEyMzU5NTlaMB0x\n"
  "GzAZBgNVBAMTEkhlYXJ0aCB0ZXN0IGNhbWVyYTBZMBMGByqGSM49AgEGCCqGSM49\n"
  "AwEHA0IABES9vNrTheTclP+excxEkI/37dh9iZ1smGDKcj267AuXkMUWkxKm61TF\n"
  "SESIYip3rD22PhC5dS3BifBqnmBMlRWjVDBSMAwGA1UdEwEB/wQCMAAwEwYDVR0l\n"
  "BAwwCgYIKwYBBQUHAwEwDgYDVR0PAQH/BAQDAgeAMB0GA1UdDgQWBBT2qPqmZ0nG\n"
  "5ms5/NRt2TKD1EyL5TAKBggqhkjOPQQDAgNJADBGAiEAkpvAENm0lHmS37nmPIUM\n"
  "pe7JpxOBazJ5N32/8fKc6WsCIQCkyjCW+gyNJuijXWXtiV0/WzW6sq48ItJJVB1a\n"
  "4P/t+g==\n"
  "-----END CERTIFICATE-----\n"
  "-----BEGIN EC PRIVATE KEY-----\n"
  "MHcCAQEEIHQy/iMMcvvtY2YHpSMZwVtL+5aaFDslj5OHEO2uBo6hoAoGCCqGSM49\n"
  "AwEHoUQDQgAERL282tOF5NyU/57FzESQj/ft2H2JnWyYYMpyPbrsC5eQxRaTEqbr\n"
  "VMVIRIhiKnesPbY+ELl1LcGJ8GqeYEyVFQ==\n"
  "-----END EC PRIVATE KEY-----\n";

/* One that GLib accepts by itself once it is an anchor of the default
 * database: a CA, for IP address 127.0.0.1, valid from 2020 to 9999. */
#define CERT_C_SHA256 \
  "e5815bb023f2d7ca90f5da635237c997bfe9d2dc642e063f2139f63c22eff313"

static const char cert_c_pem[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBrDCCAVGgAwIBAgIBCTAKBggqhkjOPQQDAjApMScwJQYDVQQDEx5IZWFydGgg\n"
  "dGVzdCBjYW1lcmEgdm91Y2hlZCBmb3IwIBcNMjAwMTAxMDAwMDAwWhgPOTk5OTEy\n"
  "MzEyMzU5NTlaMCkxJzAlBgNVBAMTHkhlYXJ0aCB0ZXN0IGNhbWVyYSB2b3VjaGVk\n"
  "IGZvcjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABMnXOps1H36DMPj5h+es2glm\n"
  "LlTv4PNtextJrcZxuSkwnTwBpRD92bbSNUmY5KtW8rMOZf6K8gDKLEHwNYdN9YGj\n"
  "aDBmMA8GA1UdEwEB/wQFMAMBAf8wDwYDVR0RBAgwBocEfwAAATATBgNVHSUEDDAK\n"
  "BggrBgEFBQcDATAOBgNVHQ8BAf8EBAMCAoQwHQYDVR0OBBYEFIdowVahUtiWSk73\n"
  "vnyR/uU8ocezMAoGCCqGSM49BAMCA0kAMEYCIQCk/eFXmFX8ZzqSgbZYtMAToZY+\n"
  "r7xMV2Q6K4IvlzYYKwIhAItzmfhArilXDxl11izNjvYR2+W6JfDBp5Tjl0nfASIO\n"
  "-----END CERTIFICATE-----\n"
  "-----BEGIN EC PRIVATE KEY-----\n"
  "MHcCAQEEIFvfEuh89+jwAM6lyRXN8rLu2u5Ijk2xcm3VvmBwAn/BoAoGCCqGSM49\n"
  "AwEHoUQDQgAEydc6mzUffoMw+PmH56zaCWYuVO/g8217G0mtxnG5KTCdPAGlEP3Z\n"
  "ttI1SZjkq1bysw5l/oryAMosQfA1h031gQ==\n"
  "-----END EC PRIVATE KEY-----\n";

static GTlsCertificate *
test_certificate (const char *pem)
{
  g_autoptr(GError) error = NULL;
  GTlsCertificate *certificate = g_tls_certificate_new_from_pem (pem, -1,
                                                                 &error);

  g_assert_no_error (error);
  return certificate;
}

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

/* The server's responses: one per request it handled. Only those to the
 * latest connection are counted. */
static void
on_send_message (GstRTSPClient *client, GstRTSPSession *session,
                 GstRTSPMessage *message, gpointer user_data)
{
  RtspCounts *counts = user_data;

  if (GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (client), "n")) ==
      counts->n_clients)
    counts->n_latest_responses++;
}

static void
rtsp_counts_release (gpointer counts)
{
  g_atomic_rc_box_release (counts);
}

static void
on_client_connected (GstRTSPServer *server, GstRTSPClient *client,
                     gpointer user_data)
{
  RtspCamera *c = user_data;

  c->counts->n_clients++;
  c->counts->n_latest_responses = 0;
  g_object_set_data (G_OBJECT (client), "n",
                     GUINT_TO_POINTER (c->counts->n_clients));
  g_signal_connect_data (client, "send-message", G_CALLBACK (on_send_message),
                         g_atomic_rc_box_acquire (c->counts),
                         (GClosureNotify) (void (*) (void)) rtsp_counts_release,
                         0);
}

#define RTSP_H264_LAUNCH \
  "( videotestsrc is-live=true ! " \
  "video/x-raw,width=320,height=240,framerate=30/1 ! " \
  "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! " \
  "valve name=valve ! rtph264pay name=pay0 pt=96 config-interval=-1 )"

/* @certificate: (nullable): serve RTSPS with it; @launch: the media */
static void
rtsp_camera_start_full (RtspCamera *c, GTlsCertificate *certificate,
                        const char *launch)
{
  g_autoptr(GstRTSPMountPoints) mounts = NULL;
  g_autoptr(GstRTSPToken) token = NULL;
  g_autofree char *basic = NULL;
  GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new ();

  memset (c, 0, sizeof *c);
  c->counts = g_atomic_rc_box_new0 (RtspCounts);
  c->auth = gst_rtsp_auth_new ();
  c->scheme = certificate != NULL ? "rtsps" : "rtsp";
  if (certificate != NULL)
    gst_rtsp_auth_set_tls_certificate (c->auth, certificate);
  c->server = gst_rtsp_server_new ();
  g_signal_connect (c->server, "client-connected",
                    G_CALLBACK (on_client_connected), c);
  gst_rtsp_server_set_address (c->server, "127.0.0.1");
  gst_rtsp_server_set_service (c->server, "0");

  gst_rtsp_media_factory_set_launch (factory, launch);
  gst_rtsp_media_factory_add_role (factory, "viewer",
      GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
      GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, NULL);
  g_signal_connect (factory, "media-configure",
                    G_CALLBACK (on_media_configure), c);

  token = gst_rtsp_token_new (GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE,
                              G_TYPE_STRING, "viewer", NULL);
  basic = gst_rtsp_auth_make_basic (RTSP_USER, RTSP_PASSWORD);
  gst_rtsp_auth_add_basic (c->auth, basic, token);
  gst_rtsp_server_set_auth (c->server, c->auth);

  mounts = gst_rtsp_server_get_mount_points (c->server);
  gst_rtsp_mount_points_add_factory (mounts, "/cam", factory);

  c->source_id = gst_rtsp_server_attach (c->server,
                                         g_main_context_get_thread_default ());
  g_assert_cmpuint (c->source_id, !=, 0);
  c->port = (guint) gst_rtsp_server_get_bound_port (c->server);
  g_assert_cmpuint (c->port, >, 0);
}

static void
rtsp_camera_start_tls (RtspCamera *c, GTlsCertificate *certificate)
{
  rtsp_camera_start_full (c, certificate, RTSP_H264_LAUNCH);
}

static void
rtsp_camera_start (RtspCamera *c)
{
  rtsp_camera_start_tls (c, NULL);
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
  g_source_destroy (g_main_context_find_source_by_id (
      g_main_context_get_thread_default (), c->source_id));
  gst_rtsp_server_client_filter (c->server, remove_client, NULL);
  gst_clear_object (&c->valve);
  g_clear_object (&c->server);
  g_clear_object (&c->auth);
  g_clear_pointer (&c->counts, rtsp_counts_release);
  drain_main_context ();
}

static char *
rtsp_camera_url (RtspCamera *c, const char *userinfo)
{
  return g_strdup_printf ("%s://%s@127.0.0.1:%u/cam", c->scheme, userinfo,
                          c->port);
}

/* ---- the admission gate ---- */

typedef struct {
  gboolean admit;
  const char *reason;        /* (nullable) given when refusing */
  guint calls;
  /* What was true when the gate was asked. */
  guint chunks_seen;
  gboolean stream_ready;
  gboolean video_info;       /* set when the init segment is pushed */
  HearthCameraState state;
  guint64 generation;
  Viewer *viewer;            /* (nullable) */
  RtspCamera *rtsp;          /* (nullable) */
  guint rtsp_medias;
  gboolean stop_camera;      /* stop the camera from inside the gate */
  gboolean destroyed;
  char peer_certificate[65]; /* as the gate saw it; "" for NULL */
} Gate;

static gboolean
gate_admit (HearthCamera *camera, char **reason, gpointer user_data)
{
  Gate *gate = user_data;
  HearthStream *stream = hearth_camera_get_stream (camera);

  gate->calls++;
  gate->chunks_seen = gate->viewer != NULL ? gate->viewer->chunks->len : 0;
  gate->stream_ready = hearth_stream_is_ready (stream);
  gate->video_info = hearth_camera_get_video_info (camera, NULL, NULL, NULL,
                                                   NULL);
  gate->state = hearth_camera_get_state (camera);
  gate->generation = hearth_stream_get_generation (stream);
  if (gate->rtsp != NULL)
    gate->rtsp_medias = gate->rtsp->n_medias;
  g_strlcpy (gate->peer_certificate,
             hearth_camera_get_peer_certificate (camera) != NULL
             ? hearth_camera_get_peer_certificate (camera) : "",
             sizeof gate->peer_certificate);
  if (gate->stop_camera)
    hearth_camera_stop (camera);
  if (!gate->admit)
    *reason = g_strdup (gate->reason);
  return gate->admit;
}

static gboolean
gate_was_called (gpointer data)
{
  Gate *gate = data;

  return gate->calls > 0;
}

static void
gate_destroyed (gpointer user_data)
{
  Gate *gate = user_data;

  gate->destroyed = TRUE;
}

/* Streams with the URL's credentials; a camera that stops sending is
 * restarted as a new generation, and its subscribers are ended. */
static void
test_rtsp_streams_and_stalls (HearthTestFixture *f, gconstpointer data)
{
  RtspCamera c;
  g_autofree char *url = NULL;
  g_autoptr(HearthCamera) camera = NULL;
  StateWait streaming, offline;
  Viewer v, again;
  ChunkWait some = { &v, 5 };
  Gate gate = { .admit = TRUE };
  const char *codec = NULL;
  int width = 0, height = 0;
  guint64 first_generation;

  rtsp_camera_start (&c);
  url = rtsp_camera_url (&c, RTSP_USERINFO);
  camera = hearth_camera_new (CAMERA_ID, url);
  streaming = (StateWait) { camera, HEARTH_CAMERA_STREAMING };
  offline = (StateWait) { camera, HEARTH_CAMERA_OFFLINE };
  hearth_camera_set_backoff (camera, 100, 1000);
  gate.rtsp = &c;
  gate.viewer = &v;
  hearth_camera_set_admit_func (camera, gate_admit, &gate, NULL);

  hearth_camera_start (camera);
  viewer_init (&v, hearth_camera_get_stream (camera));
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &streaming, DEADLINE_S));
  /* Asked once, when the camera had answered (its media existed) and
   * before the stream had anything of the run. */
  g_assert_cmpuint (gate.calls, ==, 1);
  g_assert_cmpuint (gate.rtsp_medias, ==, 1);
  g_assert_cmpuint (gate.chunks_seen, ==, 0);
  g_assert_false (gate.stream_ready);
  g_assert_false (gate.video_info);
  /* rtsp://: no certificate. */
  g_assert_cmpstr (gate.peer_certificate, ==, "");
  g_assert_null (hearth_camera_get_peer_certificate (camera));
  g_assert_true (hearth_test_wait_for (f, viewer_has_chunks, &some, DEADLINE_S));
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
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &offline, DEADLINE_S));
  g_assert_nonnull (strstr (hearth_camera_get_last_error (camera),
                            "stopped sending"));
  g_assert_cmpuint (viewer_ends (&v), ==, 1);

  /* Reconnected: a new media on the camera, a new generation here, and the
   * gate asked again about it. */
  gate.viewer = NULL;
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &streaming, DEADLINE_S));
  g_assert_cmpuint (c.n_medias, ==, 2);
  g_assert_cmpuint (gate.calls, ==, 2);
  g_assert_cmpuint (gate.rtsp_medias, ==, 2);
  g_assert_false (gate.stream_ready);
  g_assert_cmpuint (gate.generation, >, first_generation);
  g_assert_cmpuint (hearth_stream_get_generation (hearth_camera_get_stream (camera)),
                    >, first_generation);
  viewer_init (&again, hearth_camera_get_stream (camera));
  viewer_assert_sane (&again);

  hearth_camera_stop (camera);
  viewer_clear (&v);
  viewer_clear (&again);
  rtsp_camera_stop (&c);
}

/* The init segment's sample entry: "avc1", "hvc1", … */
static void
assert_sample_entry (Viewer *v, const char *expected)
{
  GBytes *init = hearth_chunk_get_bytes (v->chunks->pdata[0]);
  char entry[5];

  g_assert_true (hearth_fmp4_init_get_sample_entry (g_bytes_get_data (init, NULL),
                                                    g_bytes_get_size (init),
                                                    entry));
  g_assert_cmpstr (entry, ==, expected);
}

/* An H.265 camera is passed through: rtph265depay ! h265parse, hvc1 in the
 * init segment, keyframes found, "h265" reported. */
static gboolean
viewer_ended (gpointer data)
{
  Viewer *v = data;

  return v->n_ends > 0;
}

/* A camera whose picture size changes inside its RTSP session: at once a
 * new generation, with an init segment of the new size and a keyframe; the
 * old generation's subscribers are ended; the run goes on (never offline,
 * connecting only once). */
static void
test_rtsp_resize (HearthTestFixture *f, gconstpointer data)
{
  RtspCamera c;
  g_autofree char *url = NULL;
  g_autoptr(HearthCamera) camera = NULL;
  g_autoptr(GstObject) media = NULL;
  g_autoptr(GstElement) size = NULL;
  g_autoptr(GstCaps) caps = NULL;
  StateLog log;
  StateWait streaming;
  Viewer before, after;
  ChunkWait some = { &before, 10 };
  ChunkWait more = { &after, 10 };
  HearthStream *stream;
  guint64 generation;
  int width = 0, height = 0;

  rtsp_camera_start_full (&c, NULL,
      "( videotestsrc is-live=true ! "
      "capsfilter name=size caps=video/x-raw,width=320,height=240,framerate=30/1 ! "
      "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! "
      "valve name=valve ! rtph264pay name=pay0 pt=96 config-interval=-1 )");
  url = rtsp_camera_url (&c, RTSP_USERINFO);
  camera = hearth_camera_new (CAMERA_ID, url);
  stream = hearth_camera_get_stream (camera);
  state_log_init (&log, camera);
  streaming = (StateWait) { camera, HEARTH_CAMERA_STREAMING };

  hearth_camera_start (camera);
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &streaming, DEADLINE_S));
  viewer_init (&before, stream);
  g_assert_true (hearth_test_wait_for (f, viewer_has_chunks, &some, DEADLINE_S));
  generation = hearth_stream_get_generation (stream);

  media = gst_object_get_parent (GST_OBJECT (c.valve));
  size = gst_bin_get_by_name (GST_BIN (media), "size");
  caps = gst_caps_from_string ("video/x-raw,width=160,height=120,framerate=30/1");
  g_object_set (size, "caps", caps, NULL);

  g_assert_true (hearth_test_wait_for (f, viewer_ended, &before, DEADLINE_S));
  viewer_assert_sane (&before);
  g_assert_cmpuint (hearth_stream_get_generation (stream), !=, generation);
  viewer_init (&after, stream);
  g_assert_true (hearth_test_wait_for (f, viewer_has_chunks, &more, DEADLINE_S));
  viewer_assert_sane (&after);
  assert_sample_entry (&after, "avc1");
  g_assert_true (hearth_camera_get_video_info (camera, NULL, &width, &height, NULL));
  g_assert_cmpint (width, ==, 160);
  g_assert_cmpint (height, ==, 120);
  g_assert_cmpuint (state_log_count (&log, HEARTH_CAMERA_OFFLINE), ==, 0);
  g_assert_cmpuint (state_log_count (&log, HEARTH_CAMERA_CONNECTING), ==, 1);
  g_assert_cmpuint (viewer_ends (&after), ==, 0);

  hearth_camera_stop (camera);
  viewer_clear (&before);
  viewer_clear (&after);
  state_log_clear (&log);
  rtsp_camera_stop (&c);
}

static void
test_rtsp_h265 (HearthTestFixture *f, gconstpointer data)
{
  RtspCamera c;
  g_autofree char *url = NULL;
  g_autoptr(HearthCamera) camera = NULL;
  StateWait streaming;
  Viewer v;
  ChunkWait some = { &v, 40 };
  const char *codec = NULL;
  int width = 0, height = 0;
  guint keyframes = 0;

  if (!gst_registry_check_feature_version (gst_registry_get (), "x265enc", 1, 0, 0)) {
    g_test_skip ("no x265enc (gstreamer1.0-plugins-bad)");
    return;
  }
  rtsp_camera_start_full (&c, NULL,
      "( videotestsrc is-live=true ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! "
      "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=30 "
      "option-string=open-gop=0 ! "
      "valve name=valve ! rtph265pay name=pay0 pt=96 config-interval=-1 )");
  url = rtsp_camera_url (&c, RTSP_USERINFO);
  camera = hearth_camera_new (CAMERA_ID, url);
  streaming = (StateWait) { camera, HEARTH_CAMERA_STREAMING };

  hearth_camera_start (camera);
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &streaming, DEADLINE_S));
  viewer_init (&v, hearth_camera_get_stream (camera));
  g_assert_true (hearth_test_wait_for (f, viewer_has_chunks, &some, DEADLINE_S));
  viewer_assert_sane (&v);
  assert_sample_entry (&v, "hvc1");
  for (guint i = 1; i < v.chunks->len; i++)
    keyframes += hearth_chunk_is_keyframe (v.chunks->pdata[i]);
  /* The cached GOP's keyframe, and one every 30 frames after it. */
  g_assert_cmpuint (keyframes, >=, 2);
  g_assert_true (hearth_camera_get_video_info (camera, &codec, &width,
                                               &height, NULL));
  g_assert_cmpstr (codec, ==, "h265");
  g_assert_cmpint (width, ==, 320);
  g_assert_cmpint (height, ==, 240);

  hearth_camera_stop (camera);
  viewer_clear (&v);
  rtsp_camera_stop (&c);
}

/* Neither H.264 nor H.265 (here JPEG over RTP): offline, saying why. */
static void
test_rtsp_unsupported_codec (HearthTestFixture *f, gconstpointer data)
{
  RtspCamera c;
  g_autofree char *url = NULL;
  g_autoptr(HearthCamera) camera = NULL;
  StateWait offline;

  rtsp_camera_start_full (&c, NULL,
      "( videotestsrc is-live=true ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! jpegenc ! "
      "valve name=valve ! rtpjpegpay name=pay0 pt=26 )");
  url = rtsp_camera_url (&c, RTSP_USERINFO);
  camera = hearth_camera_new (CAMERA_ID, url);
  offline = (StateWait) { camera, HEARTH_CAMERA_OFFLINE };

  hearth_camera_start (camera);
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &offline, DEADLINE_S));
  g_assert_nonnull (strstr (hearth_camera_get_last_error (camera),
                            "only H.264 and H.265"));
  g_assert_false (hearth_camera_get_video_info (camera, NULL, NULL, NULL, NULL));

  hearth_camera_stop (camera);
  rtsp_camera_stop (&c);
}

/* A wrong password: offline with a reason that does not repeat it. */
static void
test_rtsp_wrong_password (HearthTestFixture *f, gconstpointer data)
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
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &offline, DEADLINE_S));
  reason = hearth_camera_get_last_error (camera);
  g_test_message ("offline because: %s", reason);
  g_assert_nonnull (reason);
  g_assert_null (strstr (reason, "wr0ng-s3cret"));
  g_assert_cmpuint (c.n_medias, ==, 0);

  hearth_camera_stop (camera);
  rtsp_camera_stop (&c);
}

/* Credentials set apart from the URL are used instead of the URL's, and
 * never shown. */
static void
test_rtsp_credentials (HearthTestFixture *f, gconstpointer data)
{
  GPtrArray *messages = (GPtrArray *) data;
  const char *secrets[] = { "first-s3cret", "s3cr3t-Cred!", "wr0ng-s3cret" };
  RtspCamera c;
  g_autofree char *bare = NULL;
  g_autofree char *wrong = NULL;
  g_autoptr(HearthCamera) refused = NULL;
  g_autofree char *reason = NULL;
  StateWait offline;
  guint first_message = messages->len;

  rtsp_camera_start (&c);
  bare = g_strdup_printf ("rtsp://127.0.0.1:%u/cam", c.port);
  wrong = rtsp_camera_url (&c, RTSP_USER ":wr0ng-s3cret");

  /* None in the URL, or wrong ones there: those set apart win. */
  for (guint i = 0; i < 2; i++) {
    g_autoptr(HearthCamera) camera =
      hearth_camera_new (CAMERA_ID, i == 0 ? bare : wrong);
    StateWait streaming = { camera, HEARTH_CAMERA_STREAMING };

    hearth_camera_set_credentials (camera, "someone", "first-s3cret");
    hearth_camera_set_credentials (camera, RTSP_USER, RTSP_PASSWORD);
    hearth_camera_start (camera);
    g_assert_true (hearth_test_wait_for (f, camera_in_state, &streaming, DEADLINE_S));
    g_assert_cmpuint (c.n_medias, ==, i + 1);
    hearth_camera_stop (camera);
  }

  /* Wrong ones set apart: offline, and the reason does not repeat them. */
  refused = hearth_camera_new (CAMERA_ID, bare);
  offline = (StateWait) { refused, HEARTH_CAMERA_OFFLINE };
  hearth_camera_set_credentials (refused, RTSP_USER, "s3cr3t-Cred!");
  hearth_camera_start (refused);
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &offline, DEADLINE_S));
  reason = g_strdup (hearth_camera_get_last_error (refused));
  g_test_message ("offline because: %s", reason);
  g_assert_nonnull (reason);
  g_assert_cmpuint (c.n_medias, ==, 2);
  hearth_camera_stop (refused);

  for (guint i = first_message; i < messages->len; i++) {
    for (guint k = 0; k < G_N_ELEMENTS (secrets); k++) {
      g_assert_null (strstr (messages->pdata[i], secrets[k]));
      g_assert_null (strstr (reason, secrets[k]));
    }
  }
  rtsp_camera_stop (&c);
}

#define RTSP_SUB_LAUNCH \
  "( videotestsrc is-live=true ! " \
  "video/x-raw,width=160,height=120,framerate=30/1 ! " \
  "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! " \
  "valve name=valve ! rtph264pay name=pay0 pt=96 config-interval=-1 )"

/*
 * A camera with a sub stream: one more ingest, on its own URL, with the
 * credentials, gate and backoff set on the camera (before or after the sub
 * URL); its own stream, whose chunks say they are of the sub stream; started,
 * refused and stopped with the camera.
 */
static void
test_rtsp_sub_stream (HearthTestFixture *f, gconstpointer data)
{
  RtspCamera main_cam, sub_cam;
  g_autofree char *main_url = NULL;
  g_autofree char *sub_url = NULL;
  g_autoptr(HearthCamera) camera = NULL;
  HearthCamera *sub;
  StateWait streaming, sub_streaming, refused;
  Gate gate = { .admit = TRUE };
  Viewer v, vs;
  ChunkWait some = { &v, 5 }, sub_some = { &vs, 5 };
  int width = 0, height = 0;

  rtsp_camera_start (&main_cam);
  rtsp_camera_start_full (&sub_cam, NULL, RTSP_SUB_LAUNCH);
  main_url = g_strdup_printf ("rtsp://127.0.0.1:%u/cam", main_cam.port);
  sub_url = g_strdup_printf ("rtsp://127.0.0.1:%u/cam", sub_cam.port);
  camera = hearth_camera_new (CAMERA_ID, main_url);
  hearth_camera_set_credentials (camera, RTSP_USER, RTSP_PASSWORD);
  hearth_camera_set_backoff (camera, 100, 1000);
  g_assert_null (hearth_camera_get_sub (camera));
  hearth_camera_set_sub_url (camera, sub_url);
  hearth_camera_set_admit_func (camera, gate_admit, &gate, NULL);
  sub = hearth_camera_get_sub (camera);
  g_assert_nonnull (sub);
  g_assert_cmpuint (hearth_camera_get_kind (camera), ==, HEARTH_STREAM_MAIN);
  g_assert_cmpuint (hearth_camera_get_kind (sub), ==, HEARTH_STREAM_SUB);
  g_assert_cmpstr (hearth_camera_get_id (sub), ==, CAMERA_ID);
  g_assert_true (hearth_camera_get_stream (sub) != hearth_camera_get_stream (camera));

  hearth_camera_start (camera);
  streaming = (StateWait) { camera, HEARTH_CAMERA_STREAMING };
  sub_streaming = (StateWait) { sub, HEARTH_CAMERA_STREAMING };
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &streaming, DEADLINE_S));
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &sub_streaming, DEADLINE_S));
  /* Each run passed the gate; each server saw one client. */
  g_assert_cmpuint (gate.calls, ==, 2);
  g_assert_cmpuint (main_cam.n_medias, ==, 1);
  g_assert_cmpuint (sub_cam.n_medias, ==, 1);

  viewer_init (&v, hearth_camera_get_stream (camera));
  viewer_init (&vs, hearth_camera_get_stream (sub));
  g_assert_true (hearth_test_wait_for (f, viewer_has_chunks, &some, DEADLINE_S));
  g_assert_true (hearth_test_wait_for (f, viewer_has_chunks, &sub_some, DEADLINE_S));
  viewer_assert_sane (&v);
  viewer_assert_sane (&vs);
  for (guint i = 0; i < v.chunks->len; i++)
    g_assert_cmpuint (hearth_chunk_get_kind (v.chunks->pdata[i]), ==, HEARTH_STREAM_MAIN);
  for (guint i = 0; i < vs.chunks->len; i++)
    g_assert_cmpuint (hearth_chunk_get_kind (vs.chunks->pdata[i]), ==, HEARTH_STREAM_SUB);
  g_assert_true (hearth_camera_get_video_info (camera, NULL, &width, &height, NULL));
  g_assert_cmpint (width, ==, 320);
  g_assert_true (hearth_camera_get_video_info (sub, NULL, &width, &height, NULL));
  g_assert_cmpint (width, ==, 160);
  g_assert_cmpint (height, ==, 120);

  /* Refused (quarantine): both streams end, neither is retried. */
  hearth_camera_refuse (camera, "quarantined: another device");
  refused = (StateWait) { sub, HEARTH_CAMERA_REFUSED };
  g_assert_true (camera_in_state (&refused));
  refused.camera = camera;
  g_assert_true (camera_in_state (&refused));
  g_assert_cmpuint (viewer_ends (&v), ==, 1);
  g_assert_cmpuint (viewer_ends (&vs), ==, 1);
  viewer_clear (&v);
  viewer_clear (&vs);

  /* Started again, then stopped: both. */
  hearth_camera_start (camera);
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &sub_streaming, DEADLINE_S));
  g_assert_cmpuint (gate.calls, >=, 4);
  hearth_camera_stop (camera);
  g_assert_cmpuint (hearth_camera_get_state (sub), ==, HEARTH_CAMERA_STOPPED);
  g_assert_cmpuint (hearth_camera_get_state (camera), ==, HEARTH_CAMERA_STOPPED);

  /* No sub URL any more: none. */
  hearth_camera_set_sub_url (camera, NULL);
  g_assert_null (hearth_camera_get_sub (camera));
  g_clear_object (&camera);
  rtsp_camera_stop (&sub_cam);
  rtsp_camera_stop (&main_cam);
}

/* A URL that no retry can fix goes offline at once, says why, and is not
 * retried. */
static void
test_bad_urls (HearthTestFixture *f, gconstpointer data)
{
  HearthPlugins *plugins = (HearthPlugins *) data;
  const struct {
    const char *url;
    gboolean plugin;     /* with the source func of the URL's plugin */
    const char *reason;
  } cases[] = {
    { "synthetic:pattern=no-such-pattern", TRUE,
      "Unknown synthetic camera pattern" },
    { "synthetic:colour=red", TRUE, "Unknown synthetic camera option" },
    { "synthetic:", FALSE, "no plugin builds its source" },
    { "file:///etc/passwd", FALSE, "rtsp://" },
    { "rtsp://", FALSE, "URL" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr(HearthCamera) camera =
      cases[i].plugin ? synthetic_camera_new (plugins, cases[i].url)
                      : hearth_camera_new (CAMERA_ID, cases[i].url);
    StateLog log;

    state_log_init (&log, camera);
    hearth_camera_set_backoff (camera, 50, 50);
    hearth_camera_start (camera);
    g_assert_cmpint (hearth_camera_get_state (camera), ==,
                     HEARTH_CAMERA_OFFLINE);
    g_assert_nonnull (strstr (hearth_camera_get_last_error (camera),
                              cases[i].reason));
    /* Well past the backoff: still no attempt. */
    run_for_ms (200);
    g_assert_cmpuint (state_log_count (&log, HEARTH_CAMERA_CONNECTING), ==, 0);
    hearth_camera_stop (camera);
    state_log_clear (&log);
  }
}

/* Refused: not one byte of the run reaches a subscriber, the camera says
 * why and does not retry; a later start asks again. */
static void
test_admit_refused (HearthTestFixture *f, gconstpointer data)
{
  g_autoptr(HearthCamera) camera = synthetic_camera_new ((HearthPlugins *) data,
                                                         "synthetic:");
  HearthStream *stream = hearth_camera_get_stream (camera);
  Gate gate = {
    .admit = FALSE,
    .reason = "Evidence changed: MAC 02:00:00:00:00:02, adopted with "
              "02:00:00:00:00:01",
  };
  StateWait refused = { camera, HEARTH_CAMERA_REFUSED };
  StateWait streaming = { camera, HEARTH_CAMERA_STREAMING };
  HearthStreamStats stats;
  ChunkWait some;
  Viewer v, late, again;
  StateLog log;

  state_log_init (&log, camera);
  hearth_camera_set_backoff (camera, 50, 50);
  hearth_camera_set_admit_func (camera, gate_admit, &gate, gate_destroyed);
  hearth_camera_start (camera);
  viewer_init (&v, stream);
  gate.viewer = &v;

  g_assert_true (hearth_test_wait_for (f, camera_in_state, &refused, DEADLINE_S));
  g_assert_cmpuint (gate.calls, ==, 1);
  /* Asked after the pipeline ran, before the stream had anything. */
  g_assert_cmpint (gate.state, ==, HEARTH_CAMERA_CONNECTING);
  g_assert_false (gate.stream_ready);
  g_assert_false (gate.video_info);
  g_assert_cmpuint (gate.chunks_seen, ==, 0);

  g_assert_cmpstr (hearth_camera_get_last_error (camera), ==, gate.reason);
  g_assert_cmpuint (v.chunks->len, ==, 0);
  g_assert_cmpuint (viewer_ends (&v), ==, 1);
  g_assert_false (hearth_stream_is_ready (stream));
  hearth_stream_get_stats (stream, &stats);
  g_assert_cmpuint (stats.frames, ==, 0);
  g_assert_cmpuint (stats.bytes, ==, 0);
  g_assert_false (hearth_camera_get_video_info (camera, NULL, NULL, NULL,
                                                NULL));
  g_assert_cmpstr (hearth_camera_get_state_name (camera), ==, "refused");

  /* A late subscriber gets nothing either. */
  viewer_init (&late, stream);
  g_assert_cmpuint (viewer_ends (&late), ==, 1);
  g_assert_cmpuint (late.chunks->len, ==, 0);
  viewer_clear (&late);

  /* Many backoffs later: no retry, nothing more. */
  run_for_ms (500);
  g_assert_cmpuint (gate.calls, ==, 1);
  g_assert_cmpint (hearth_camera_get_state (camera), ==, HEARTH_CAMERA_REFUSED);
  g_assert_cmpuint (state_log_count (&log, HEARTH_CAMERA_CONNECTING), ==, 1);
  g_assert_cmpuint (log.states->len, ==, 2);
  g_assert_cmpuint (v.chunks->len, ==, 0);

  /* Adopted again: a new start asks again, and this time it streams. */
  gate.admit = TRUE;
  gate.viewer = NULL;
  hearth_camera_start (camera);
  viewer_init (&again, stream);
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &streaming, DEADLINE_S));
  g_assert_cmpuint (gate.calls, ==, 2);
  g_assert_null (hearth_camera_get_last_error (camera));
  some = (ChunkWait) { &again, 3 };
  g_assert_true (hearth_test_wait_for (f, viewer_has_chunks, &some, DEADLINE_S));
  viewer_assert_sane (&again);
  g_assert_cmpuint (v.chunks->len, ==, 0);

  hearth_camera_stop (camera);
  g_assert_false (gate.destroyed);
  g_clear_object (&camera);
  g_assert_true (gate.destroyed);
  viewer_clear (&v);
  viewer_clear (&again);
  state_log_clear (&log);
}

/* A refusal without a reason still says something; a gate that stops the
 * camera itself leaves it stopped. */
static void
test_admit_refused_edge_cases (HearthTestFixture *f, gconstpointer data)
{
  HearthPlugins *plugins = (HearthPlugins *) data;
  g_autoptr(HearthCamera) camera = synthetic_camera_new (plugins, "synthetic:");
  g_autoptr(HearthCamera) stopper = synthetic_camera_new (plugins, "synthetic:");
  Gate gate = { .admit = FALSE, .reason = NULL };
  Gate stop = { .admit = TRUE, .stop_camera = TRUE };
  StateWait refused = { camera, HEARTH_CAMERA_REFUSED };

  hearth_camera_set_admit_func (camera, gate_admit, &gate, NULL);
  hearth_camera_start (camera);
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &refused, DEADLINE_S));
  g_assert_nonnull (hearth_camera_get_last_error (camera));
  g_assert_cmpstr (hearth_camera_get_last_error (camera), !=, "");

  hearth_camera_set_admit_func (stopper, gate_admit, &stop, NULL);
  hearth_camera_start (stopper);
  g_assert_true (hearth_test_wait_for (f, gate_was_called, &stop, DEADLINE_S));
  g_assert_cmpint (hearth_camera_get_state (stopper), ==,
                   HEARTH_CAMERA_STOPPED);
  g_assert_false (hearth_stream_is_ready (hearth_camera_get_stream (stopper)));
  run_for_ms (200);
  g_assert_cmpuint (stop.calls, ==, 1);
  g_assert_cmpint (hearth_camera_get_state (stopper), ==,
                   HEARTH_CAMERA_STOPPED);
}

/* ---- RTSPS certificates ---- */

typedef struct {
  guint n;
  char *seen;
  HearthCameraState state;   /* when it came */
} CertificateChanges;

static void
on_certificate_changed (HearthCamera *camera, const char *seen,
                        gpointer user_data)
{
  CertificateChanges *changes = user_data;

  changes->n++;
  g_free (changes->seen);
  changes->seen = g_strdup (seen);
  changes->state = hearth_camera_get_state (camera);
}

/* No pin: any certificate is trusted on first use, and the gate can read
 * it to record it; with that pin, the camera streams again. */
static void
test_rtsps_trust_on_first_use (HearthTestFixture *f, gconstpointer data)
{
  g_autoptr(GTlsCertificate) cert_a = test_certificate (cert_a_pem);
  g_autofree char *url = NULL;
  g_autoptr(HearthCamera) camera = NULL;
  CertificateChanges changes = { 0 };
  RtspCamera c;
  StateWait streaming;
  Gate gate = { .admit = TRUE };
  Viewer v;
  ChunkWait some = { &v, 5 };

  rtsp_camera_start_tls (&c, cert_a);
  url = rtsp_camera_url (&c, RTSP_USERINFO);
  g_assert_true (g_str_has_prefix (url, "rtsps://"));
  camera = hearth_camera_new (CAMERA_ID, url);
  streaming = (StateWait) { camera, HEARTH_CAMERA_STREAMING };
  g_signal_connect (camera, "certificate-changed",
                    G_CALLBACK (on_certificate_changed), &changes);
  hearth_camera_set_admit_func (camera, gate_admit, &gate, NULL);
  g_assert_null (hearth_camera_get_peer_certificate (camera));

  hearth_camera_start (camera);
  viewer_init (&v, hearth_camera_get_stream (camera));
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &streaming, DEADLINE_S));
  g_assert_cmpuint (gate.calls, ==, 1);
  g_assert_cmpstr (gate.peer_certificate, ==, CERT_A_SHA256);
  g_assert_cmpstr (hearth_camera_get_peer_certificate (camera), ==,
                   CERT_A_SHA256);
  g_assert_true (hearth_test_wait_for (f, viewer_has_chunks, &some, DEADLINE_S));
  viewer_assert_sane (&v);
  hearth_camera_stop (camera);
  g_assert_null (hearth_camera_get_peer_certificate (camera));
  viewer_clear (&v);

  /* Pinned to what it presented: the same again. */
  hearth_camera_set_pinned_certificate (camera, CERT_A_SHA256);
  hearth_camera_start (camera);
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &streaming, DEADLINE_S));
  g_assert_cmpuint (gate.calls, ==, 2);
  g_assert_cmpstr (gate.peer_certificate, ==, CERT_A_SHA256);
  g_assert_cmpuint (c.n_medias, ==, 2);
  hearth_camera_stop (camera);

  g_assert_cmpuint (changes.n, ==, 0);
  rtsp_camera_stop (&c);
}

static gboolean
camera_refused_and_told (gpointer data)
{
  CertificateChanges *changes = data;

  return changes->n > 0;
}

/* Pinned to another certificate: the handshake fails before any request
 * (the camera never sees the credentials), the run ends REFUSED with the
 * two fingerprints, the signal comes once, and nothing is retried. */
static void
test_rtsps_pin_mismatch (HearthTestFixture *f, gconstpointer data)
{
  g_autoptr(GTlsCertificate) cert_a = test_certificate (cert_a_pem);
  g_autofree char *url = NULL;
  g_autoptr(HearthCamera) camera = NULL;
  CertificateChanges changes = { 0 };
  RtspCamera c;
  Gate gate = { .admit = TRUE };
  StateLog log;
  Viewer v;
  guint clients;

  rtsp_camera_start_tls (&c, cert_a);
  url = rtsp_camera_url (&c, RTSP_USERINFO);
  camera = hearth_camera_new (CAMERA_ID, url);
  state_log_init (&log, camera);
  hearth_camera_set_backoff (camera, 50, 50);
  g_signal_connect (camera, "certificate-changed",
                    G_CALLBACK (on_certificate_changed), &changes);
  hearth_camera_set_admit_func (camera, gate_admit, &gate, NULL);
  hearth_camera_set_pinned_certificate (camera, CERT_B_SHA256);

  hearth_camera_start (camera);
  viewer_init (&v, hearth_camera_get_stream (camera));
  g_assert_true (hearth_test_wait_for (f, camera_refused_and_told, &changes, DEADLINE_S));
  g_assert_cmpint (hearth_camera_get_state (camera), ==,
                   HEARTH_CAMERA_REFUSED);
  g_assert_cmpuint (changes.n, ==, 1);
  g_assert_cmpstr (changes.seen, ==, CERT_A_SHA256);
  g_assert_cmpint (changes.state, ==, HEARTH_CAMERA_REFUSED);
  g_assert_cmpstr (hearth_camera_get_last_error (camera), ==,
                   "its TLS certificate changed (SHA-256 3e9173aa8c9ad5af…, "
                   "not 2325b2f88779a2cb…)");
  g_assert_null (hearth_camera_get_peer_certificate (camera));

  /* The camera got a connection, but no request of it was handled. */
  drain_main_context ();
  g_assert_cmpuint (c.counts->n_clients, ==, 1);
  g_assert_cmpuint (c.counts->n_latest_responses, ==, 0);
  g_assert_cmpuint (c.n_medias, ==, 0);
  g_assert_cmpuint (gate.calls, ==, 0);
  g_assert_cmpuint (v.chunks->len, ==, 0);
  g_assert_cmpuint (viewer_ends (&v), ==, 1);
  g_assert_false (hearth_stream_is_ready (hearth_camera_get_stream (camera)));

  /* Many backoffs later: no retry, no second signal. */
  clients = c.counts->n_clients;
  run_for_ms (500);
  g_assert_cmpuint (c.counts->n_clients, ==, clients);
  g_assert_cmpuint (changes.n, ==, 1);
  g_assert_cmpuint (state_log_count (&log, HEARTH_CAMERA_CONNECTING), ==, 1);
  g_assert_cmpint (hearth_camera_get_state (camera), ==,
                   HEARTH_CAMERA_REFUSED);

  hearth_camera_stop (camera);
  viewer_clear (&v);
  state_log_clear (&log);
  g_free (changes.seen);
  rtsp_camera_stop (&c);
}

/* Another device takes over while the camera streams (here: the server's
 * certificate is replaced, then the stream stalls): the reconnect's
 * handshake is checked too, and refused. */
static void
test_rtsps_certificate_changes_on_reconnect (HearthTestFixture *f, gconstpointer data)
{
  g_autoptr(GTlsCertificate) cert_a = test_certificate (cert_a_pem);
  g_autoptr(GTlsCertificate) cert_b = test_certificate (cert_b_pem);
  g_autofree char *url = NULL;
  g_autoptr(HearthCamera) camera = NULL;
  CertificateChanges changes = { 0 };
  RtspCamera c;
  StateWait streaming;
  guint clients;

  rtsp_camera_start_tls (&c, cert_a);
  url = rtsp_camera_url (&c, RTSP_USERINFO);
  camera = hearth_camera_new (CAMERA_ID, url);
  streaming = (StateWait) { camera, HEARTH_CAMERA_STREAMING };
  hearth_camera_set_backoff (camera, 100, 100);
  hearth_camera_set_pinned_certificate (camera, CERT_A_SHA256);
  g_signal_connect (camera, "certificate-changed",
                    G_CALLBACK (on_certificate_changed), &changes);

  hearth_camera_start (camera);
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &streaming, DEADLINE_S));
  g_assert_cmpstr (hearth_camera_get_peer_certificate (camera), ==,
                   CERT_A_SHA256);
  clients = c.counts->n_clients;

  gst_rtsp_auth_set_tls_certificate (c.auth, cert_b);
  g_object_set (c.valve, "drop", TRUE, NULL);
  g_assert_true (hearth_test_wait_for (f, camera_refused_and_told, &changes, DEADLINE_S));
  g_assert_cmpint (hearth_camera_get_state (camera), ==,
                   HEARTH_CAMERA_REFUSED);
  g_assert_cmpstr (changes.seen, ==, CERT_B_SHA256);
  g_assert_nonnull (strstr (hearth_camera_get_last_error (camera),
                            "SHA-256 2325b2f88779a2cb…, not 3e9173aa8c9ad5af…"));
  drain_main_context ();
  g_assert_cmpuint (c.counts->n_clients, ==, clients + 1);
  g_assert_cmpuint (c.counts->n_latest_responses, ==, 0);
  g_assert_cmpuint (c.n_medias, ==, 1);
  g_assert_cmpuint (changes.n, ==, 1);

  hearth_camera_stop (camera);
  g_free (changes.seen);
  rtsp_camera_stop (&c);
}

/* A certificate GLib vouches for by itself (as if a CA of the system had
 * signed it for 127.0.0.1: here it is an anchor of the default database)
 * never reaches the handler. Unpinned, the camera streams and its
 * certificate is unknown; pinned, it sends no request and is refused
 * (without "certificate-changed": no certificate was seen). */
static void
test_rtsps_vouched_for_by_glib (HearthTestFixture *f, gconstpointer data)
{
  g_autoptr(GTlsCertificate) cert_c = test_certificate (cert_c_pem);
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsDatabase) anchors = NULL;
  g_autofree char *anchors_path = NULL;
  g_autofree char *url = NULL;
  g_autoptr(HearthCamera) camera = NULL;
  GTlsBackend *backend = g_tls_backend_get_default ();
  CertificateChanges changes = { 0 };
  RtspCamera c;
  StateWait streaming, refused;
  Gate gate = { .admit = TRUE };
  int fd;

  fd = g_file_open_tmp ("hearth-anchors-XXXXXX.pem", &anchors_path, &error);
  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (anchors_path, cert_c_pem, -1, &error);
  g_assert_no_error (error);
  anchors = g_tls_file_database_new (anchors_path, &error);
  g_assert_no_error (error);
  g_tls_backend_set_default_database (backend, anchors);

  rtsp_camera_start_tls (&c, cert_c);
  url = rtsp_camera_url (&c, RTSP_USERINFO);
  camera = hearth_camera_new (CAMERA_ID, url);
  streaming = (StateWait) { camera, HEARTH_CAMERA_STREAMING };
  refused = (StateWait) { camera, HEARTH_CAMERA_REFUSED };
  hearth_camera_set_admit_func (camera, gate_admit, &gate, NULL);
  g_signal_connect (camera, "certificate-changed",
                    G_CALLBACK (on_certificate_changed), &changes);

  hearth_camera_start (camera);
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &streaming, DEADLINE_S));
  g_assert_cmpuint (gate.calls, ==, 1);
  g_assert_cmpstr (gate.peer_certificate, ==, "");
  hearth_camera_stop (camera);

  hearth_camera_set_pinned_certificate (camera, CERT_C_SHA256);
  hearth_camera_start (camera);
  g_assert_true (hearth_test_wait_for (f, camera_in_state, &refused, DEADLINE_S));
  g_assert_nonnull (strstr (hearth_camera_get_last_error (camera),
                            "could not be checked"));
  drain_main_context ();
  g_assert_cmpuint (c.counts->n_latest_responses, ==, 0);
  g_assert_cmpuint (c.n_medias, ==, 1);
  g_assert_cmpuint (gate.calls, ==, 1);
  g_assert_cmpuint (changes.n, ==, 0);
  hearth_camera_stop (camera);

  g_tls_backend_set_default_database (backend, NULL);
  g_unlink (anchors_path);
  rtsp_camera_stop (&c);
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

/*
 * Fatal criticals stay fatal, but one: GStreamer 1.22's RTSP connection code
 * (rtspsrc and the test's RTSP server, in this process) can read from a
 * connection whose input stream another thread has just let go while a run
 * stops, and GIO says so with a critical. Seen once in many runs under load;
 * hearthd carries on after it, as the end-to-end tests show. Only that
 * message is let through.
 */
static gboolean
fatal_unless_rtsp_read_race (const char *domain, GLogLevelFlags level,
                             const char *message, gpointer user_data)
{
  return !(g_strcmp0 (domain, "GLib-GIO") == 0 && message != NULL &&
           strstr (message, "g_pollable_input_stream_read_nonblocking") != NULL);
}

/* Breaks the timestamps of what a parser hands the muxer, as a loaded
 * machine's RTP path once did: frame 10 without a PTS or DTS, frame 20 with
 * a DTS before the one of frame 19. */
static GstPadProbeReturn
break_timestamps (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  guint *n = user_data;
  GstBuffer *buffer = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));

  ++*n;
  if (*n == 10) {
    GST_BUFFER_PTS (buffer) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DTS (buffer) = GST_CLOCK_TIME_NONE;
  } else if (*n == 20 && GST_BUFFER_DTS (buffer) > GST_SECOND / 10) {
    GST_BUFFER_DTS (buffer) -= GST_SECOND / 10;
  }
  info->data = buffer;
  return GST_PAD_PROBE_OK;
}

/* The muxer's video input never sees a buffer without a PTS or a DTS that
 * goes back: mp4mux would fail the run ("Could not multiplex stream"), and
 * the camera would reconnect into a new generation. */
static void
test_timestamps_kept_going (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GstElement) pipeline = gst_parse_launch (
      "videotestsrc num-buffers=40 ! video/x-raw,format=I420,width=160,height=120 "
      "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 "
      "! h264parse ! identity name=parsed "
      "! mp4mux name=mux fragment-duration=1 streamable=true "
      "! appsink name=sink sync=false", &error);
  g_autoptr(GstElement) parsed = NULL;
  g_autoptr(GstElement) sink = NULL;
  g_autoptr(GstPad) parsed_sink = NULL;
  g_autoptr(GstBus) bus = NULL;
  g_autoptr(GstMessage) message = NULL;
  guint n = 0, samples = 0;

  g_assert_no_error (error);
  parsed = gst_bin_get_by_name (GST_BIN (pipeline), "parsed");
  parsed_sink = gst_element_get_static_pad (parsed, "sink");
  gst_pad_add_probe (parsed_sink, GST_PAD_PROBE_TYPE_BUFFER, break_timestamps, &n, NULL);
  hearth_camera_watch_video (pipeline);

  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);
  for (;;) {
    g_autoptr(GstSample) sample = NULL;

    g_signal_emit_by_name (sink, "try-pull-sample", 10 * GST_SECOND, &sample);
    if (sample == NULL)
      break;
    samples++;
  }
  bus = gst_element_get_bus (pipeline);
  message = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
                                        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  g_assert_nonnull (message);
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
    g_autoptr(GError) pipeline_error = NULL;

    gst_message_parse_error (message, &pipeline_error, NULL);
    g_error ("the muxer failed: %s", pipeline_error->message);
  }
  g_assert_cmpuint (n, ==, 40);
  /* ftyp+moov, then one fragment a frame. */
  g_assert_cmpuint (samples, >=, 40);
  gst_element_set_state (pipeline, GST_STATE_NULL);
}

int
main (int argc, char **argv)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  HearthPlugins *plugins;
  int ret;

  g_log_set_writer_func (capture_log, messages, NULL);
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_log_set_fatal_handler (fatal_unless_rtsp_read_race, NULL);

  /* The synthetic camera's source is the real module's. */
  plugins = hearth_plugins_load (hearth_plugins_default_dir (), &error);
  g_assert_no_error (error);

  g_test_add_func ("/hearth/camera/redact-url", test_redact_url);
  hearth_test_add ("/hearth/camera/synthetic-streams", plugins,
                        test_synthetic_streams);
  hearth_test_add ("/hearth/camera/dispose-while-streaming", plugins,
                        test_dispose_while_streaming);
  hearth_test_add ("/hearth/camera/rtsp-streams-and-stalls", NULL,
                   test_rtsp_streams_and_stalls);
  hearth_test_add ("/hearth/camera/rtsp-h265", NULL, test_rtsp_h265);
  hearth_test_add ("/hearth/camera/rtsp-resize", NULL, test_rtsp_resize);
  g_test_add_func ("/hearth/camera/timestamps-kept-going", test_timestamps_kept_going);
  hearth_test_add ("/hearth/camera/rtsp-unsupported-codec", NULL,
                   test_rtsp_unsupported_codec);
  hearth_test_add ("/hearth/camera/rtsp-wrong-password", NULL,
                   test_rtsp_wrong_password);
  hearth_test_add ("/hearth/camera/rtsp-sub-stream", NULL, test_rtsp_sub_stream);
  hearth_test_add ("/hearth/camera/rtsp-credentials", messages,
                        test_rtsp_credentials);
  hearth_test_add ("/hearth/camera/rtsps-trust-on-first-use", NULL,
                   test_rtsps_trust_on_first_use);
  hearth_test_add ("/hearth/camera/rtsps-pin-mismatch", NULL,
                   test_rtsps_pin_mismatch);
  hearth_test_add ("/hearth/camera/rtsps-certificate-changes-on-reconnect", NULL,
                   test_rtsps_certificate_changes_on_reconnect);
  hearth_test_add ("/hearth/camera/rtsps-vouched-for-by-glib", NULL,
                   test_rtsps_vouched_for_by_glib);
  hearth_test_add ("/hearth/camera/offline-retries", messages,
                        test_offline_retries);
  hearth_test_add ("/hearth/camera/bad-urls", plugins, test_bad_urls);
  hearth_test_add ("/hearth/camera/admit-refused", plugins,
                        test_admit_refused);
  hearth_test_add ("/hearth/camera/admit-refused-edge-cases", plugins,
                        test_admit_refused_edge_cases);

  ret = g_test_run ();
  g_clear_object (&plugins);
  gst_deinit ();
  return ret;
}
