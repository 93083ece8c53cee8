/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A camera's audio on the RTSP ingest, for HearthCamera (camera.c).
 *
 * AAC is passed through: RTP MPEG4-GENERIC in mode AAC-hbr or AAC-lbr
 * (RFC 3640, rtpmp4gdepay) and MP4A-LATM (RFC 6416, rtpmp4adepay, with its
 * config in the SDP). It becomes the second track of the camera's
 * fragmented MP4:
 *
 *   rtspsrc ! rtpmp4gdepay ! aacparse ! audio/mpeg,raw ! mp4mux.audio_0
 *
 * G.711 (RTP PCMA or PCMU, 8 kHz mono: what many cameras send, and what no
 * browser plays) is transcoded to AAC, once per camera in its ingest, so
 * every display, live.mp4 and LL-HLS alike, gets the same AAC track:
 *
 *   rtspsrc ! rtppcmadepay ! alawdec ! audioconvert ! audioresample
 *     ! audio/x-raw,rate=48000,channels=1 ! avenc_aac ! aacparse
 *     ! audio/mpeg,raw ! mp4mux.audio_0
 *
 * The encoder is FFmpeg's native AAC encoder (avenc_aac, gstreamer1.0-libav,
 * LGPL): of the AAC encoders Debian 12 has, it sounds better than
 * VisualOn's (voaacenc, gstreamer1.0-plugins-bad, Apache-2.0, the cheapest:
 * 0.4 % of a core at 48 kHz); Fraunhofer's fdkaacenc is not in Debian's
 * main. Its "fast" coder costs half its default "twoloop" (0.4 % of a core
 * against 1.0 % for 48 kHz mono, decode and resampling included), and
 * G.711's 300-3400 Hz band gains nothing from the slower search. The whole
 * transcoded track, muxing and serving its fragments included, is about
 * 1.2 % of a core per camera (bench/run.sh, cameras per core). mp4mux gets
 * the AudioSpecificConfig from the encoder's caps (codec_data) through
 * aacparse, as for a camera's AAC.
 *
 * Why 48 kHz and not the camera's 8 kHz: mp4mux writes a video frame only
 * once it holds the audio up to that frame's time, so the encoder's delay
 * is the video's too. An AAC frame is 1024 samples, and the encoder gives
 * one out after the next has come in: 128 ms + 128 ms at 8 kHz, 21 ms +
 * 21 ms at 48 kHz, against the 23 ms of an AAC camera's frames at 44.1 kHz.
 * Nothing above 4 kHz is made up: the resampler's output has the G.711
 * band only, which 48 kb/s carries.
 *
 * Sync: the encoder's first frame is priming (1024 samples of its delay),
 * and its output timestamps start at the input's, so what a player decodes
 * at time t was heard 1024 samples before t. The encoder's output is
 * shifted back by that (shift_priming()), dropping what would start before
 * the stream's 0, so the AAC track stays in sync with the video as an AAC
 * camera's does.
 *
 * Anything else (G.726, Opus, L16; a second audio stream) is not even set
 * up: rtspsrc's select-stream says no, and the camera's stats and log say
 * which audio was ignored and why.
 *
 * Ordering: mp4mux only takes new pads before it starts, and once it has an
 * audio pad it waits for audio before writing anything. So the pad is
 * requested in select-stream (rtspsrc's SETUP, before any RTP flows), and
 * only for the first AAC or G.711 stream of a run that allows audio. If that
 * audio then never comes, or stops, the muxer stalls with video waiting:
 * camera.c notices (hearth_camera_audio_is_awaited() for a while, nothing
 * out of the muxer) and runs the camera without audio from then on.
 *
 * Latency: the video waits for the AAC frame that covers it (23 ms at
 * 44.1 kHz, plus the audio's own jitter; for G.711 the encoder's delay
 * above). Seen with the fake camera at 44.1 kHz: the reference display's
 * median lag 101-102 ms with AAC against 97-98 ms for a camera whose audio
 * is ignored.
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

/* G.711 becomes AAC at this rate (see the top of the file). */
#define TRANSCODE_RATE 48000
/* avenc_aac's delay: one AAC frame (FFmpeg's initial_padding). */
#define ENCODER_PRIMING_SAMPLES 1024
#define ENCODER_NAME "aacenc"
/* Named in the head, for its priming to be shifted. */
#define TRANSCODE_TAIL \
  "audioconvert ! audioresample " \
  "! audio/x-raw,rate=" G_STRINGIFY (TRANSCODE_RATE) ",channels=1 " \
  "! avenc_aac name=" ENCODER_NAME " bitrate=48000 aac-coder=fast " \
  "! aacparse ! capsfilter caps=\"" AAC_CAPS "\""

static const HearthCameraHead audio_heads[] = {
  { "MPEG4-GENERIC", "rtpmp4gdepay ! aacparse ! "
                     "capsfilter caps=\"" AAC_CAPS "\"" },
  { "MP4A-LATM", "rtpmp4adepay ! aacparse ! "
                 "capsfilter caps=\"" AAC_CAPS "\"" },
  { "PCMA", "rtppcmadepay ! alawdec ! " TRANSCODE_TAIL },
  { "PCMU", "rtppcmudepay ! mulawdec ! " TRANSCODE_TAIL },
};

/* What the G.711 heads need besides what AAC's need. */
static const char *const transcode_elements[] = {
  "rtppcmadepay", "alawdec", "rtppcmudepay", "mulawdec", "audioconvert",
  "audioresample", "avenc_aac",
};

/* Immutable once the pipeline runs: read by select-stream's thread. */
void
hearth_camera_audio_prepare (GstElement *ingest, const char *off_reason)
{
  g_object_set_data_full (G_OBJECT (ingest), AUDIO_OFF_KEY,
                          g_strdup (off_reason), g_free);
}

static void
post_codec (GstElement *src, const char *source)
{
  gst_element_post_message (
      src, gst_message_new_element (GST_OBJECT (src),
                                    gst_structure_new (MESSAGE_NAME,
                                                       "codec", G_TYPE_STRING, "aac",
                                                       "source", G_TYPE_STRING, source,
                                                       NULL)));
}

static void
post_ignored (GstElement *src, const char *reason)
{
  gst_element_post_message (
      src, gst_message_new_element (GST_OBJECT (src),
                                    gst_structure_new (MESSAGE_NAME,
                                                       "ignored", G_TYPE_STRING, reason,
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

/* The first element of transcode_elements this GStreamer lacks, or NULL. */
static const char *
missing_transcode_element (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (transcode_elements); i++) {
    g_autoptr(GstElementFactory) factory =
      gst_element_factory_find (transcode_elements[i]);

    if (factory == NULL)
      return transcode_elements[i];
  }
  return NULL;
}

/**
 * hearth_camera_audio_decide:
 * @caps: an RTP audio stream's caps (application/x-rtp, from the SDP)
 * @source: (out) (optional): with TRUE, "aac" (passed through), "pcma" or
 *   "pcmu" (transcoded to AAC); a static string
 * @reason: (out) (optional) (transfer full): with FALSE, why the stream is
 *   not taken
 *
 * Returns: TRUE if the stream can become the MP4's AAC track
 */
gboolean
hearth_camera_audio_decide (const GstStructure *caps, const char **source,
                            char **reason)
{
  const char *encoding = gst_structure_get_string (caps, "encoding-name");
  const char *mode = gst_structure_get_string (caps, "mode");
  const char *taken = NULL;
  char *why = NULL;

  if (encoding == NULL) {
    why = g_strdup ("audio without an encoding name");
  } else if (g_ascii_strcasecmp (encoding, "MP4A-LATM") == 0) {
    taken = "aac";
  } else if (g_ascii_strcasecmp (encoding, "MPEG4-GENERIC") == 0) {
    if (mode != NULL && (g_ascii_strcasecmp (mode, "AAC-hbr") == 0 ||
                         g_ascii_strcasecmp (mode, "AAC-lbr") == 0))
      taken = "aac";
    else
      why = g_strdup_printf ("MPEG4-GENERIC audio in mode %s, not AAC",
                             mode != NULL ? printable_name (mode) : "(none)");
  } else if (g_ascii_strcasecmp (encoding, "PCMA") == 0 ||
             g_ascii_strcasecmp (encoding, "PCMU") == 0) {
    const char *missing = missing_transcode_element ();

    if (missing != NULL)
      why = g_strdup_printf ("%s (G.711) audio: it is transcoded to AAC, but "
                             "GStreamer's %s element is not installed",
                             g_ascii_strcasecmp (encoding, "PCMA") == 0
                               ? "PCMA" : "PCMU", missing);
    else
      taken = g_ascii_strcasecmp (encoding, "PCMA") == 0 ? "pcma" : "pcmu";
  } else {
    why = g_strdup_printf ("%s audio: not supported (only AAC, passed "
                           "through, and G.711 PCMA/PCMU, transcoded to AAC)",
                           printable_name (encoding));
  }

  if (source != NULL)
    *source = taken;
  if (reason != NULL)
    *reason = why;
  else
    g_free (why);
  return taken != NULL;
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
  const char *source = NULL;

  if (hearth_camera_audio_decide (s, &source, &reason) && off != NULL)
    reason = g_strdup (off);
  if (reason == NULL) {
    taken = gst_element_get_static_pad (ingest, "audio");
    if (taken != NULL)
      reason = g_strdup ("a second audio stream: only the first AAC or G.711 "
                         "stream is taken");
    else if (!add_audio_pad (ingest))
      reason = g_strdup ("the muxer took no audio track");
  }

  if (reason != NULL) {
    post_ignored (src, reason);
    return FALSE;
  }
  post_codec (src, source);
  return TRUE;
}

/*
 * On the encoder's streaming thread: what it gives out at time t decodes
 * to what came in 1024 samples before t (its priming); shifted back by
 * that, the AAC track is in sync with the video. What would start before
 * the stream's 0 (the priming frame itself, in practice) is dropped.
 */
static GstPadProbeReturn
shift_priming (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  const GstClockTime delay =
    gst_util_uint64_scale_int (ENCODER_PRIMING_SAMPLES, GST_SECOND,
                               TRANSCODE_RATE);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime pts = GST_BUFFER_PTS (buffer);

  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return GST_PAD_PROBE_OK;
  if (pts < delay)
    return GST_PAD_PROBE_DROP;
  buffer = gst_buffer_make_writable (buffer);
  GST_BUFFER_PTS (buffer) = pts - delay;
  if (GST_BUFFER_DTS_IS_VALID (buffer))
    GST_BUFFER_DTS (buffer) = GST_BUFFER_DTS (buffer) >= delay
      ? GST_BUFFER_DTS (buffer) - delay : 0;
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  return GST_PAD_PROBE_OK;
}

/* If @head transcodes, shifts its encoder's output by its priming. */
static void
watch_encoder (GstElement *head)
{
  g_autoptr(GstElement) encoder = gst_bin_get_by_name (GST_BIN (head),
                                                       ENCODER_NAME);
  g_autoptr(GstPad) pad = NULL;

  if (encoder == NULL)
    return;
  pad = gst_element_get_static_pad (encoder, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, shift_priming, NULL,
                     NULL);
}

/**
 * hearth_camera_audio_make_head:
 * @encoding: an RTP encoding name
 *
 * Returns: (transfer floating) (nullable): the head for @encoding, a bin
 *   with pads "sink" (RTP) and "src" (AAC for the muxer), G.711's encoder
 *   priming shifted out; NULL if there is none for it (with @error set if
 *   it could not be built)
 */
GstElement *
hearth_camera_audio_make_head (const char *encoding, GError **error)
{
  GstElement *head = hearth_camera_make_head (audio_heads,
                                              G_N_ELEMENTS (audio_heads),
                                              encoding, error);

  if (head != NULL)
    watch_encoder (head);
  return head;
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
  head = hearth_camera_audio_make_head (encoding, &error);
  if (head == NULL && error == NULL)
    return;
  if (head == NULL) {
    GST_ELEMENT_ERROR (src, CORE, MISSING_PLUGIN,
                       ("Could not build the ingest for the camera's audio: %s",
                        error->message), (NULL));
    return;
  }
  if (!hearth_camera_link_head (ingest, head, pad, sink))
    GST_ELEMENT_ERROR (src, CORE, NEGOTIATION,
                       ("Could not link the camera's audio stream"),
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
                                   char **source, char **ignored)
{
  const GstStructure *s;

  *codec = *source = *ignored = NULL;
  if (GST_MESSAGE_TYPE (message) != GST_MESSAGE_ELEMENT)
    return FALSE;
  s = gst_message_get_structure (message);
  if (s == NULL || !gst_structure_has_name (s, MESSAGE_NAME))
    return FALSE;
  *codec = g_strdup (gst_structure_get_string (s, "codec"));
  *source = g_strdup (gst_structure_get_string (s, "source"));
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
