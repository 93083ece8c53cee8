/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for the camera's audio decision (camera-audio.c): which RTP audio
 * streams, by their SDP caps, become the MP4's AAC track (AAC passed
 * through, G.711 PCMA/PCMU transcoded) and what is said about the others,
 * in words fit for the stats and the log; and that the G.711 transcode keeps
 * its audio where it was in time: a beep every half second through A-law
 * or µ-law, RTP and the gateway's head, decoded again, starts when the same
 * beep decoded straight from G.711 does (the AAC encoder's priming, 21 ms at
 * 48 kHz, taken out), in-process and without a clock; and when the RTP
 * packets' timestamps move by 30 ms mid-stream (rtspsrc's lip sync does
 * that), the beeps after it move with them.
 */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include "camera-audio.h"

typedef struct {
  const char *caps;
  const char *source;    /* NULL: not taken */
  const char *reason;    /* with source NULL: the start of the reason */
} Case;

static const Case cases[] = {
  { "application/x-rtp,media=audio,encoding-name=PCMA,clock-rate=8000", "pcma", NULL },
  { "application/x-rtp,media=audio,encoding-name=PCMU,clock-rate=8000", "pcmu", NULL },
  { "application/x-rtp,media=audio,encoding-name=pcmu,clock-rate=8000", "pcmu", NULL },
  { "application/x-rtp,media=audio,encoding-name=MPEG4-GENERIC,mode=AAC-hbr", "aac", NULL },
  { "application/x-rtp,media=audio,encoding-name=MPEG4-GENERIC,mode=aac-lbr", "aac", NULL },
  { "application/x-rtp,media=audio,encoding-name=MP4A-LATM", "aac", NULL },
  { "application/x-rtp,media=audio,encoding-name=MPEG4-GENERIC,mode=CELP-cbr", NULL,
    "MPEG4-GENERIC audio in mode CELP-cbr, not AAC" },
  { "application/x-rtp,media=audio,encoding-name=MPEG4-GENERIC", NULL,
    "MPEG4-GENERIC audio in mode (none), not AAC" },
  { "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000", NULL,
    "OPUS audio: not supported (only AAC, passed through, and G.711" },
  { "application/x-rtp,media=audio,encoding-name=L16,clock-rate=44100", NULL,
    "L16 audio: not supported" },
  { "application/x-rtp,media=audio,encoding-name=G726-32", NULL,
    "G726-32 audio: not supported" },
  { "application/x-rtp,media=audio,encoding-name=\"<script>\"", NULL,
    "(unreadable) audio: not supported" },
  { "application/x-rtp,media=audio,clock-rate=8000", NULL,
    "audio without an encoding name" },
};

static void
test_decide (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr(GstCaps) caps = gst_caps_from_string (cases[i].caps);
    g_autofree char *reason = NULL;
    const char *source = NULL;
    gboolean taken;

    g_assert_nonnull (caps);
    taken = hearth_camera_audio_decide (gst_caps_get_structure (caps, 0),
                                        &source, &reason);
    g_test_message ("%s: %s", cases[i].caps, taken ? source : reason);
    g_assert_cmpint (taken, ==, cases[i].source != NULL);
    g_assert_cmpstr (source, ==, cases[i].source);
    if (cases[i].source != NULL) {
      g_assert_null (reason);
    } else {
      g_assert_nonnull (reason);
      g_assert_true (g_str_has_prefix (reason, cases[i].reason));
    }
  }
}

/* The out parameters may be left out. */
static void
test_decide_without_outputs (void)
{
  g_autoptr(GstCaps) pcma = gst_caps_from_string (
      "application/x-rtp,media=audio,encoding-name=PCMA");
  g_autoptr(GstCaps) opus = gst_caps_from_string (
      "application/x-rtp,media=audio,encoding-name=OPUS");

  g_assert_true (hearth_camera_audio_decide (gst_caps_get_structure (pcma, 0),
                                             NULL, NULL));
  g_assert_false (hearth_camera_audio_decide (gst_caps_get_structure (opus, 0),
                                              NULL, NULL));
}

/* A beep every 500 ms of stream time, as G.711 in RTP packets of 20 ms. */
#define BEEPS \
  "audiotestsrc wave=ticks tick-interval=500000000 num-buffers=150 " \
  "samplesperbuffer=160 ! audio/x-raw,rate=8000,channels=1 ! %s "
#define PCM_SINK \
  "audioconvert ! audio/x-raw,format=S16LE,channels=1 " \
  "! appsink name=sink sync=false"

/* Pulls every buffer of @pipeline's appsink "sink" to EOS; returns each
 * beep's onset (ms of stream time, by the PTS of its buffer): the first
 * 1 ms window over a tenth of the loudest after 50 ms under a hundredth. */
static GArray *
beep_onsets (GstElement *pipeline)
{
  g_autoptr(GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_autoptr(GArray) energy = g_array_new (FALSE, TRUE, sizeof (double));
  g_autoptr(GArray) times = g_array_new (FALSE, TRUE, sizeof (double));
  GArray *onsets = g_array_new (FALSE, FALSE, sizeof (double));
  int rate = 0, window = 0;
  double acc = 0, top = 0;
  guint64 n = 0;

  g_assert_nonnull (sink);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);
  for (;;) {
    g_autoptr(GstSample) sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
    GstBuffer *buffer;
    GstMapInfo map;

    if (sample == NULL)
      break;
    if (rate == 0) {
      g_assert_true (gst_structure_get_int (
          gst_caps_get_structure (gst_sample_get_caps (sample), 0), "rate",
          &rate));
      window = rate / 1000;
    }
    buffer = gst_sample_get_buffer (sample);
    g_assert_true (GST_BUFFER_PTS_IS_VALID (buffer));
    g_assert_true (gst_buffer_map (buffer, &map, GST_MAP_READ));
    for (gsize i = 0; i + 1 < map.size; i += 2, n++) {
      double x = (gint16) (map.data[i] | (map.data[i + 1] << 8));

      acc += x * x;
      if ((n + 1) % window == 0) {
        /* A window's time: its last sample's, by its buffer's PTS. */
        double ms = GST_BUFFER_PTS (buffer) / (double) GST_MSECOND +
                    (i / 2) * 1000.0 / rate - (window - 1) * 1000.0 / rate;

        g_array_append_val (energy, acc);
        g_array_append_val (times, ms);
        top = MAX (top, acc);
        acc = 0;
      }
    }
    gst_buffer_unmap (buffer, &map);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);

  for (guint k = 50; k < energy->len; k++) {
    gboolean quiet = TRUE;

    for (guint j = k - 50; j < k && quiet; j++)
      quiet = g_array_index (energy, double, j) < top / 100;
    if (quiet && g_array_index (energy, double, k) > top / 10)
      g_array_append_val (onsets, g_array_index (times, double, k));
  }
  return onsets;
}

typedef struct {
  const char *encoding;
  const char *encoder;   /* G.711 in RTP */
  const char *decoder;   /* and back to PCM */
} G711;

/* From 1.2 s of stream time on, RTP packets come 30 ms later, as when
 * rtspsrc's lip sync moves a stream: no discontinuity, only timestamps. */
#define JUMP_AT_MS 1200
#define JUMP_MS 30

static GstPadProbeReturn
move_later (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);

  if (GST_BUFFER_PTS (buffer) < JUMP_AT_MS * GST_MSECOND)
    return GST_PAD_PROBE_OK;
  buffer = gst_buffer_make_writable (buffer);
  GST_BUFFER_PTS (buffer) += JUMP_MS * GST_MSECOND;
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  return GST_PAD_PROBE_OK;
}

static void
test_transcode (const G711 *g711, gboolean jump)
{
  g_autofree char *straight = g_strdup_printf (
      BEEPS "! %s ! " PCM_SINK, g711->encoder, g711->decoder);
  g_autofree char *source = g_strdup_printf (BEEPS, g711->encoder);
  g_autoptr(GError) error = NULL;
  g_autoptr(GstElement) reference = gst_parse_launch (straight, &error);
  g_autoptr(GstElement) pipeline = gst_pipeline_new (NULL);
  g_autoptr(GArray) want = NULL;
  g_autoptr(GArray) got = NULL;
  GstElement *beeps, *head, *back;

  g_assert_no_error (error);
  beeps = gst_parse_bin_from_description (source, TRUE, &error);
  g_assert_no_error (error);
  head = hearth_camera_audio_make_head (g711->encoding, &error);
  g_assert_no_error (error);
  g_assert_nonnull (head);
  back = gst_parse_bin_from_description ("avdec_aac ! " PCM_SINK, TRUE, &error);
  g_assert_no_error (error);
  /* The sink, named "sink" inside its bin, is found through the pipeline. */
  gst_bin_add_many (GST_BIN (pipeline), beeps, head, back, NULL);
  g_assert_true (gst_element_link_many (beeps, head, back, NULL));
  if (jump) {
    g_autoptr(GstPad) rtp = gst_element_get_static_pad (beeps, "src");

    gst_pad_add_probe (rtp, GST_PAD_PROBE_TYPE_BUFFER, move_later, NULL, NULL);
  }

  want = beep_onsets (reference);
  got = beep_onsets (pipeline);
  g_assert_cmpuint (want->len, >=, 4);
  /* The transcode may lose the first beep to its priming, not more. */
  g_assert_cmpuint (got->len, >=, want->len - 1);
  for (guint i = 0; i < got->len; i++) {
    double g = g_array_index (got, double, i);
    double w = 0;

    /* The same beep: the one within 250 ms (they are 500 ms apart), later
     * by the jump if it came after it. */
    for (guint j = 0; j < want->len; j++) {
      double t = g_array_index (want, double, j);

      if (jump && t >= JUMP_AT_MS)
        t += JUMP_MS;
      if (ABS (t - g) < 250)
        w = t;
    }
    g_test_message ("%s: beep at %.0f ms, straight from G.711 at %.0f ms",
                    g711->encoding, g, w);
    g_assert_cmpfloat (w, >, 0);
    g_assert_cmpfloat (ABS (g - w), <=, 3);
  }
}

static void
test_transcode_in_time (gconstpointer data)
{
  test_transcode (data, FALSE);
}

/* The AAC follows its input's timestamps when they move. */
static void
test_transcode_follows (gconstpointer data)
{
  test_transcode (data, TRUE);
}

static const G711 pcma = { "PCMA", "alawenc ! rtppcmapay", "rtppcmadepay ! alawdec" };
static const G711 pcmu = { "PCMU", "mulawenc ! rtppcmupay", "rtppcmudepay ! mulawdec" };

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/hearth/camera-audio/decide", test_decide);
  g_test_add_func ("/hearth/camera-audio/decide-without-outputs",
                   test_decide_without_outputs);
  g_test_add_data_func ("/hearth/camera-audio/pcma-in-time", &pcma,
                        test_transcode_in_time);
  g_test_add_data_func ("/hearth/camera-audio/pcmu-in-time", &pcmu,
                        test_transcode_in_time);
  g_test_add_data_func ("/hearth/camera-audio/pcma-follows-its-input", &pcma,
                        test_transcode_follows);
  return g_test_run ();
}
