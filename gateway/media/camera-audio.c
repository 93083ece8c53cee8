/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A camera's audio on the RTSP ingest, for HearthCamera (camera.c).
 *
 * Audio is passed through, never transcoded, and only AAC: RTP
 * MPEG4-GENERIC in mode AAC-hbr or AAC-lbr (RFC 3640, rtpmp4gdepay) and
 * MP4A-LATM (RFC 6416, rtpmp4adepay, with its config in the SDP). It becomes
 * the second track of the camera's fragmented MP4:
 *
 *   rtspsrc ! rtpmp4gdepay ! aacparse ! audio/mpeg,raw ! mp4mux.audio_0
 *
 * Anything else (PCMA/PCMU, i.e. G.711, which many cameras send; G.726;
 * Opus; a second audio stream) is not even set up: rtspsrc's select-stream
 * says no, and the camera's stats say which audio was ignored and why.
 * Transcoding G.711 to AAC is out of scope.
 *
 * Ordering: mp4mux only takes new pads before it starts, and once it has an
 * audio pad it waits for audio before writing anything. So the pad is
 * requested in select-stream (rtspsrc's SETUP, before any RTP flows), and
 * only for the first AAC stream of a run that allows audio. If that audio
 * then never comes, or stops, the muxer stalls with video waiting: camera.c
 * notices (hearth_camera_audio_is_awaited() for a while, nothing out of the
 * muxer) and runs the camera without audio from then on.
 *
 * Latency: mp4mux emits a video frame only once it holds the audio up to
 * that frame's time, so the video waits for the AAC frame that covers it
 * (23 ms at 44.1 kHz, 128 ms at 8 kHz, plus the audio's own jitter). Seen
 * with the fake camera at 44.1 kHz: the reference display's median lag
 * 101-102 ms with AAC against 97-98 ms for a camera whose audio is
 * ignored.
 *
 * Threads: select-stream runs on rtspsrc's thread and pad-added on a
 * streaming thread; they touch only the pipeline's elements, and tell the
 * main context through element messages on the bus.
 */
#define G_LOG_DOMAIN "hearth-camera"

#include "camera-audio.h"

#include <string.h>

#include <gst/base/gstaggregator.h>

#define AUDIO_OFF_KEY "hearth-audio-off"
#define MESSAGE_NAME "hearth-audio"
#define AAC_CAPS "audio/mpeg,mpegversion=4,stream-format=raw"

static const HearthCameraHead audio_heads[] = {
  { "MPEG4-GENERIC", "rtpmp4gdepay ! aacparse ! "
                     "capsfilter caps=\"" AAC_CAPS "\"" },
  { "MP4A-LATM", "rtpmp4adepay ! aacparse ! "
                 "capsfilter caps=\"" AAC_CAPS "\"" },
};

/* Immutable once the pipeline runs: read by select-stream's thread. */
void
hearth_camera_audio_prepare (GstElement *ingest, const char *off_reason)
{
  g_object_set_data_full (G_OBJECT (ingest), AUDIO_OFF_KEY,
                          g_strdup (off_reason), g_free);
}

static void
post (GstElement *src, const char *field, const char *value)
{
  gst_element_post_message (
      src, gst_message_new_element (GST_OBJECT (src),
                                    gst_structure_new (MESSAGE_NAME, field,
                                                       G_TYPE_STRING, value,
                                                       NULL)));
}

/* @name (from the camera's SDP) if it looks like an RTP encoding or mode
 * name, for stats and the log; else a placeholder. */
static const char *
printable_name (const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > 32)
    return "(unreadable)";
  for (const char *c = name; *c != '\0'; c++) {
    if (!g_ascii_isalnum (*c) && strchr ("-_.+", *c) == NULL)
      return "(unreadable)";
  }
  return name;
}

/* Why @s (an RTP audio stream's caps) is not passed through, or NULL. */
static char *
not_aac_reason (const GstStructure *s)
{
  const char *encoding = gst_structure_get_string (s, "encoding-name");
  const char *mode = gst_structure_get_string (s, "mode");

  if (encoding == NULL)
    return g_strdup ("audio without an encoding name");
  if (g_ascii_strcasecmp (encoding, "MP4A-LATM") == 0)
    return NULL;
  if (g_ascii_strcasecmp (encoding, "MPEG4-GENERIC") == 0) {
    if (mode != NULL && (g_ascii_strcasecmp (mode, "AAC-hbr") == 0 ||
                         g_ascii_strcasecmp (mode, "AAC-lbr") == 0))
      return NULL;
    return g_strdup_printf ("MPEG4-GENERIC audio in mode %s, not AAC",
                            mode != NULL ? printable_name (mode) : "(none)");
  }
  if (g_ascii_strcasecmp (encoding, "PCMA") == 0 ||
      g_ascii_strcasecmp (encoding, "PCMU") == 0)
    return g_strdup_printf ("%s (G.711) audio: only AAC is passed through, "
                            "and audio is never transcoded", encoding);
  return g_strdup_printf ("%s audio: only AAC is passed through",
                          printable_name (encoding));
}

/* Requests the muxer's audio pad and shows it on @ingest as "audio". */
static gboolean
add_audio_pad (GstElement *ingest)
{
  g_autoptr(GstElement) mux = gst_bin_get_by_name (GST_BIN (ingest), "mux");
  GstPad *mux_pad, *ghost;

  if (mux == NULL)
    return FALSE;
  mux_pad = gst_element_request_pad_simple (mux, "audio_%u");
  if (mux_pad == NULL)
    return FALSE;
  ghost = gst_ghost_pad_new ("audio", mux_pad);
  gst_object_unref (mux_pad);
  if (ghost == NULL)
    return FALSE;
  gst_pad_set_active (ghost, TRUE);
  return gst_element_add_pad (ingest, ghost);
}

/**
 * hearth_camera_audio_select:
 * @caps: the stream's caps from the SDP (application/x-rtp, media=audio)
 *
 * Returns: TRUE if rtspsrc should set the stream up
 */
gboolean
hearth_camera_audio_select (GstElement *src, GstCaps *caps, GstElement *ingest)
{
  g_autoptr(GstPad) taken = NULL;
  g_autofree char *reason = NULL;
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const char *off = g_object_get_data (G_OBJECT (ingest), AUDIO_OFF_KEY);

  reason = not_aac_reason (s);
  if (reason == NULL && off != NULL)
    reason = g_strdup (off);
  if (reason == NULL) {
    taken = gst_element_get_static_pad (ingest, "audio");
    if (taken != NULL)
      reason = g_strdup ("a second audio stream: only the first AAC stream "
                         "is passed through");
    else if (!add_audio_pad (ingest))
      reason = g_strdup ("the muxer took no audio track");
  }

  if (reason != NULL) {
    post (src, "ignored", reason);
    return FALSE;
  }
  post (src, "codec", "aac");
  return TRUE;
}

/**
 * hearth_camera_audio_link:
 * @caps: @pad's caps
 *
 * A failure is an element error on @src: the run ends and is retried, and
 * camera.c then stops asking for audio if the muxer stalled.
 */
void
hearth_camera_audio_link (GstElement *src, GstPad *pad,
                          const GstStructure *caps, GstElement *ingest)
{
  g_autoptr(GstPad) sink = gst_element_get_static_pad (ingest, "audio");
  g_autoptr(GError) error = NULL;
  const char *encoding = gst_structure_get_string (caps, "encoding-name");
  GstElement *head;

  /* Not selected, or a stream that was taken already. */
  if (sink == NULL || gst_pad_is_linked (sink))
    return;
  head = hearth_camera_make_head (audio_heads, G_N_ELEMENTS (audio_heads),
                                  encoding, &error);
  if (head == NULL && error == NULL)
    return;
  if (head == NULL) {
    GST_ELEMENT_ERROR (src, CORE, MISSING_PLUGIN,
                       ("Could not build the ingest for AAC audio: %s",
                        error->message), (NULL));
    return;
  }
  if (!hearth_camera_link_head (ingest, head, pad, sink))
    GST_ELEMENT_ERROR (src, CORE, NEGOTIATION,
                       ("Could not link the camera's AAC audio stream"),
                       (NULL));
}

GstElement *
hearth_camera_make_head (const HearthCameraHead *heads, gsize n_heads,
                         const char *encoding, GError **error)
{
  for (gsize i = 0; encoding != NULL && i < n_heads; i++) {
    if (g_ascii_strcasecmp (encoding, heads[i].encoding_name) == 0)
      return gst_parse_bin_from_description_full (heads[i].description, TRUE,
                                                  NULL,
                                                  GST_PARSE_FLAG_FATAL_ERRORS,
                                                  error);
  }
  return NULL;
}

/**
 * hearth_camera_link_head:
 * @head: (transfer floating)
 *
 * Returns: FALSE if a link failed; TRUE too if the pipeline was torn down
 *   meanwhile (nothing to link any more)
 */
gboolean
hearth_camera_link_head (GstElement *ingest, GstElement *head, GstPad *pad,
                         GstPad *sink)
{
  g_autoptr(GstObject) pipeline = gst_object_get_parent (GST_OBJECT (ingest));
  g_autoptr(GstPad) head_sink = NULL;
  g_autoptr(GstPad) head_src = NULL;

  if (pipeline == NULL) {
    /* Torn down meanwhile. */
    gst_object_unref (gst_object_ref_sink (head));
    return TRUE;
  }
  /* On failure gst_bin_add() disposes of the floating head itself. */
  if (!gst_bin_add (GST_BIN (pipeline), head))
    return FALSE;
  head_sink = gst_element_get_static_pad (head, "sink");
  head_src = gst_element_get_static_pad (head, "src");
  return head_sink != NULL && head_src != NULL &&
         !GST_PAD_LINK_FAILED (gst_pad_link (head_src, sink)) &&
         gst_element_sync_state_with_parent (head) &&
         !GST_PAD_LINK_FAILED (gst_pad_link (pad, head_sink));
}

gboolean
hearth_camera_audio_parse_message (GstMessage *message, char **codec,
                                   char **ignored)
{
  const GstStructure *s;

  *codec = *ignored = NULL;
  if (GST_MESSAGE_TYPE (message) != GST_MESSAGE_ELEMENT)
    return FALSE;
  s = gst_message_get_structure (message);
  if (s == NULL || !gst_structure_has_name (s, MESSAGE_NAME))
    return FALSE;
  *codec = g_strdup (gst_structure_get_string (s, "codec"));
  *ignored = g_strdup (gst_structure_get_string (s, "ignored"));
  return TRUE;
}

/**
 * hearth_camera_audio_is_awaited:
 * @mux: mp4mux (an aggregator: its sink pads queue what they were given)
 *
 * Returns: TRUE if a video pad of @mux holds a buffer and an audio pad
 *   holds none
 */
gboolean
hearth_camera_audio_is_awaited (GstElement *mux)
{
  gboolean video_waits = FALSE, audio_missing = FALSE;
  GList *pads = NULL;

  /* A copy: the element's lock is not held while a pad's is taken. */
  GST_OBJECT_LOCK (mux);
  for (GList *l = mux->sinkpads; l != NULL; l = l->next)
    pads = g_list_prepend (pads, gst_object_ref (l->data));
  GST_OBJECT_UNLOCK (mux);

  for (GList *l = pads; l != NULL; l = l->next) {
    GstPad *pad = l->data;
    g_autofree char *name = gst_pad_get_name (pad);

    if (!GST_IS_AGGREGATOR_PAD (pad))
      continue;
    if (g_str_has_prefix (name, "video"))
      video_waits |= gst_aggregator_pad_has_buffer (GST_AGGREGATOR_PAD (pad));
    else if (g_str_has_prefix (name, "audio"))
      audio_missing |= !gst_aggregator_pad_has_buffer (GST_AGGREGATOR_PAD (pad));
  }
  g_list_free_full (pads, gst_object_unref);
  return video_waits && audio_missing;
}
