/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/*
 * A camera's audio on the RTSP ingest: which stream becomes the MP4's AAC
 * track (AAC passed through, G.711 transcoded) and the elements that carry
 * it to the muxer; and the two helpers the video's head shares with it.
 * Used by camera.c only; see camera-audio.c.
 */

/* Before @ingest's pipeline starts: @off_reason (nullable) says why this
 * run takes no audio; NULL takes it. */
void hearth_camera_audio_prepare (GstElement *ingest, const char *off_reason);

/* Whether an RTP audio stream of @caps can be the AAC track: TRUE with
 * *@source "aac" (passed through), "pcma" or "pcmu" (transcoded); FALSE
 * with *@reason (transfer full) saying why not, for stats and the log. */
gboolean hearth_camera_audio_decide (const GstStructure *caps,
                                     const char **source, char **reason);

/* rtspsrc's select-stream, on its thread, for a stream whose media is
 * "audio": TRUE to set it up. Posts a "hearth-audio" element message on
 * @src's bus saying what was taken or why it was ignored. */
gboolean hearth_camera_audio_select (GstElement *src, GstCaps *caps,
                                     GstElement *ingest);

/* rtspsrc's pad-added, on a streaming thread, for an audio pad: links the
 * depayloader and parser (and for G.711 the transcoder) between @pad and
 * the muxer, if this stream was selected. */
void hearth_camera_audio_link (GstElement *src, GstPad *pad,
                               const GstStructure *caps, GstElement *ingest);

/* The head between an RTP audio pad of @encoding and the muxer: AAC's
 * depayloader and parser, or G.711's depayloader, decoder and AAC encoder,
 * the AAC stamped from the RTP timestamps and its priming dropped. A bin
 * with ghost pads "sink" and "src" (transfer floating), or NULL (with @error if it could not be built) if
 * there is none for @encoding. */
GstElement *hearth_camera_audio_make_head (const char *encoding,
                                           GError **error);

/* What goes between an rtspsrc pad of an RTP encoding-name and the muxer:
 * a launch-line piece, depayloader to parser. */
typedef struct {
  const char *encoding_name;
  const char *description;
} HearthCameraHead;

/* The head of @heads for @encoding, in a bin with ghost pads "sink" and
 * "src" (transfer floating), or NULL (with @error if it could not be
 * built) if @heads has none for it. */
GstElement *hearth_camera_make_head (const HearthCameraHead *heads,
                                     gsize n_heads, const char *encoding,
                                     GError **error);

/* Adds @head (a bin with "sink" and "src" pads, floating) to @ingest's
 * pipeline and links it between @pad and @sink: downstream first, started,
 * then fed, so no buffer meets an unlinked or stopped pad. FALSE if the
 * pipeline is gone (@head is dropped) or a link failed. */
gboolean hearth_camera_link_head (GstElement *ingest, GstElement *head,
                                  GstPad *pad, GstPad *sink);

/* On any thread: TRUE if @mux holds video and waits for audio, which it
 * does not have. */
gboolean hearth_camera_audio_is_awaited (GstElement *mux);

/* A "hearth-audio" message: *@codec ("aac") with *@source (the camera's
 * codec: "aac", "pcma", "pcmu"), or *@ignored (why); all (transfer full)
 * (nullable). FALSE for any other message. */
gboolean hearth_camera_audio_parse_message (GstMessage *message, char **codec,
                                            char **source, char **ignored);

G_END_DECLS
