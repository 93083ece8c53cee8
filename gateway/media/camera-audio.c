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
 * Sync: the encoder's first frame is priming (1024 samples of its delay):
 * what a player decodes at time t of its output was heard 1024 samples
 * before t. And the decoder, resampler and encoder each count their own
 * timeline from their first buffer, deaf to rtspsrc's later corrections (its
 * lip sync). So the AAC frames are stamped afresh from the depayloader's
 * timestamps, the priming frame dropped (stamp_output()), and the AAC track
 * stays in sync with the video as an AAC camera's does.
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
 * above, which is added to the latency the transcode reports: mp4mux, live,
 * waits for an input only that long before it writes the others without it). Seen with the fake camera at 44.1 kHz: the reference display's
 * median lag 101-102 ms with AAC against 97-98 ms for a camera whose audio
 * is ignored; 157 ms for G.711 transcoded, against 100 ms for a camera
 * without audio (131 ms when the AAC was stamped from the encoder's own
 * timeline, which was out of sync by up to 133 ms).
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
#define DEPAY_NAME "depay"
/* Named in the head, for its timestamps (see stamp_output()). */
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
  { "PCMA", "rtppcmadepay name=" DEPAY_NAME " ! alawdec ! " TRANSCODE_TAIL },
  { "PCMU", "rtppcmudepay name=" DEPAY_NAME " ! mulawdec ! " TRANSCODE_TAIL },
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
 * The transcode's timestamps. The decoder, the resampler and the encoder
 * each keep a timeline of their own, counted in samples from the first
 * buffer they saw: later corrections upstream (rtspsrc's lip sync moves a
 * stream's timestamps once RTCP tells it how the camera's streams line up,
 * and its jitter buffer follows the camera's clock) would never reach the
 * AAC, which could then stay 100 ms off the video for the whole run. So the
 * AAC frames are stamped from the depayloader's timestamps instead: the
 * depayloader's output is counted in samples (G.711: a byte a sample and
 * channel), each buffer's time noted; AAC frame k (after the priming frame
 * 0, dropped) holds the input from sample (k - 1) * 1024 at 48 kHz, which
 * is found among the notes. Samples lost upstream are in neither count.
 * The frames stay a frame (21.3 ms) apart as long as that time stays
 * within TIMELINE_TOLERANCE of theirs (a jitter buffer under load hands
 * packets on in bursts), and jump to it when it moves further.
 */
#define MAX_MARKS 256   /* 5 s of 20 ms packets; the encoder holds ~40 ms */
/* How far the depayloader's time may wander from the frames' own before
 * they follow it: more than its jitter, less than a lip-sync step. */
#define TIMELINE_TOLERANCE (15 * GST_MSECOND)

typedef struct {
  guint64 offset;       /* in the depayloader's samples */
  GstClockTime pts;
} Mark;

typedef struct {
  GMutex lock;
  Mark marks[MAX_MARKS]; /* protected by lock: a ring, oldest at first */
  guint first, n_marks;  /* protected by lock */
  guint64 in_samples;    /* protected by lock: depayloaded so far */
  guint64 out_frames;    /* protected by lock: AAC frames given so far */
  gboolean have_base;    /* protected by lock */
  GstClockTimeDiff base; /* protected by lock: the time of frame 1 */
  int rate, channels;    /* protected by lock: the depayloader's, 0 until
                          * its caps */
} Timeline;

static void
timeline_clear (gpointer data)
{
  Timeline *timeline = data;

  g_mutex_clear (&timeline->lock);
}

static void
timeline_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, timeline_clear);
}

/* On the depayloader's streaming thread. */
static GstPadProbeReturn
note_input (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Timeline *timeline = user_data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);

  g_mutex_lock (&timeline->lock);
  if (timeline->rate == 0) {
    g_autoptr(GstCaps) caps = gst_pad_get_current_caps (pad);
    const GstStructure *s = caps != NULL && gst_caps_get_size (caps) > 0
      ? gst_caps_get_structure (caps, 0) : NULL;

    if (s == NULL || !gst_structure_get_int (s, "rate", &timeline->rate) ||
        timeline->rate <= 0)
      timeline->rate = 0;
    if (s == NULL || !gst_structure_get_int (s, "channels", &timeline->channels) ||
        timeline->channels <= 0)
      timeline->channels = 1;
  }
  if (timeline->rate > 0 && GST_BUFFER_PTS_IS_VALID (buffer)) {
    Mark *mark;

    if (timeline->n_marks == MAX_MARKS) {
      timeline->first = (timeline->first + 1) % MAX_MARKS;
      timeline->n_marks--;
    }
    mark = &timeline->marks[(timeline->first + timeline->n_marks++) % MAX_MARKS];
    mark->offset = timeline->in_samples;
    mark->pts = GST_BUFFER_PTS (buffer);
  }
  timeline->in_samples += gst_buffer_get_size (buffer) /
                          (guint) MAX (timeline->channels, 1);
  g_mutex_unlock (&timeline->lock);
  return GST_PAD_PROBE_OK;
}

/*
 * On the encoder's streaming thread: stamps AAC frame k with the time of
 * its first input sample (see above), or drops it (the priming frame, or a
 * frame from before anything was noted).
 */
static GstPadProbeReturn
stamp_output (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Timeline *timeline = user_data;
  GstBuffer *buffer;
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  GstClockTimeDiff ns, step, smooth;
  guint64 k;

  g_mutex_lock (&timeline->lock);
  k = timeline->out_frames++;
  if (k > 0 && timeline->n_marks > 0) {
    /* In the depayloader's samples, exactly: 1024 * rate / 48000. */
    guint64 offset = gst_util_uint64_scale_int ((k - 1) * ENCODER_PRIMING_SAMPLES,
                                                timeline->rate, TRANSCODE_RATE);
    const Mark *mark = &timeline->marks[timeline->first];

    /* The last mark at or before it; those before that are done with. */
    while (timeline->n_marks > 1 &&
           timeline->marks[(timeline->first + 1) % MAX_MARKS].offset <= offset) {
      timeline->first = (timeline->first + 1) % MAX_MARKS;
      timeline->n_marks--;
      mark = &timeline->marks[timeline->first];
    }
    ns = (GstClockTimeDiff) mark->pts +
         ((GstClockTimeDiff) offset - (GstClockTimeDiff) mark->offset) *
         GST_SECOND / timeline->rate;
    /* Frames a frame apart, unless the depayloader's time moved away by
     * more than its jitter: then from there on. */
    step = (GstClockTimeDiff) gst_util_uint64_scale_int (
        (k - 1) * ENCODER_PRIMING_SAMPLES, GST_SECOND, TRANSCODE_RATE);
    smooth = timeline->base + step;
    if (!timeline->have_base || ABS (ns - smooth) > TIMELINE_TOLERANCE) {
      timeline->base = ns - step;
      timeline->have_base = TRUE;
      smooth = ns;
    }
    if (smooth >= 0)
      pts = (GstClockTime) smooth;
  }
  g_mutex_unlock (&timeline->lock);

  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return GST_PAD_PROBE_DROP;
  buffer = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  GST_BUFFER_PTS (buffer) = GST_BUFFER_DTS (buffer) = pts;
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  return GST_PAD_PROBE_OK;
}

/*
 * On the thread of a latency query, once upstream answered it: adds what
 * the encoder holds back (a frame to fill, and its one frame of delay),
 * which avenc_aac does not report. mp4mux, live, waits for each input only
 * as long as the latency its upstream reports before it writes the others
 * without it: without this, audio that the transcode gives out late under
 * load would land after the video frames of its time.
 */
static GstPadProbeReturn
add_encoder_latency (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  const GstClockTime held =
    gst_util_uint64_scale_int (2 * ENCODER_PRIMING_SAMPLES, GST_SECOND,
                               TRANSCODE_RATE);
  GstQuery *query = GST_PAD_PROBE_INFO_QUERY (info);
  GstClockTime min, max;
  gboolean live;

  if (GST_QUERY_TYPE (query) != GST_QUERY_LATENCY ||
      !(GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_PULL))
    return GST_PAD_PROBE_OK;
  gst_query_parse_latency (query, &live, &min, &max);
  gst_query_set_latency (query, live, min + held,
                         GST_CLOCK_TIME_IS_VALID (max) ? max + held : max);
  return GST_PAD_PROBE_OK;
}

/* If @head transcodes: stamps its encoder's output from its depayloader's
 * timeline, and adds the encoder's delay to the latency it reports. */
static void
watch_encoder (GstElement *head)
{
  g_autoptr(GstElement) encoder = gst_bin_get_by_name (GST_BIN (head),
                                                       ENCODER_NAME);
  g_autoptr(GstElement) depay = gst_bin_get_by_name (GST_BIN (head),
                                                     DEPAY_NAME);
  g_autoptr(GstPad) in = NULL;
  g_autoptr(GstPad) out = NULL;
  Timeline *timeline;

  if (encoder == NULL || depay == NULL)
    return;
  in = gst_element_get_static_pad (depay, "src");
  out = gst_element_get_static_pad (encoder, "src");
  /* Each probe holds a reference, dropped with the probe or its pad. */
  timeline = g_atomic_rc_box_new0 (Timeline);
  g_mutex_init (&timeline->lock);
  gst_pad_add_probe (in, GST_PAD_PROBE_TYPE_BUFFER, note_input,
                     g_atomic_rc_box_acquire (timeline), timeline_release);
  gst_pad_add_probe (out, GST_PAD_PROBE_TYPE_BUFFER, stamp_output, timeline,
                     timeline_release);
  gst_pad_add_probe (out, GST_PAD_PROBE_TYPE_QUERY_UPSTREAM,
                     add_encoder_latency, NULL, NULL);
}

/**
 * hearth_camera_audio_make_head:
 * @encoding: an RTP encoding name
 *
 * Returns: (transfer floating) (nullable): the head for @encoding, a bin
 *   with pads "sink" (RTP) and "src" (AAC for the muxer), for G.711 the
 *   AAC stamped from the RTP timestamps, its priming dropped; NULL if there
 *   is none for it (with @error set if it could not be built)
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
