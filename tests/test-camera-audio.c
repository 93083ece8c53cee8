/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for the camera's audio decision (camera-audio.c): which RTP audio
 * streams, by their SDP caps, become the MP4's AAC track (AAC passed
 * through, G.711 PCMA/PCMU transcoded) and what is said about the others,
 * in words fit for the stats and the log.
 */
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

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/hearth/camera-audio/decide", test_decide);
  g_test_add_func ("/hearth/camera-audio/decide-without-outputs",
                   test_decide_without_outputs);
  return g_test_run ();
}
