/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

G_BEGIN_DECLS

/*
 * What runs on a camera's ingest pipeline: rtspsrc's handlers, the probe
 * that follows the video into the muxer, the appsink's wake-up; and the
 * pieces of pipeline description they share with camera.c. Used by
 * camera.c only; see camera-pipeline.c.
 */

/*
 * Constant pipeline descriptions; nothing from a URL is ever formatted into
 * them. streamable=true is deprecated in 1.22 but still decides the mode:
 * without it mp4mux keeps an mfra index entry per keyframe for ever, which a
 * live stream that never ends cannot afford. (The deprecation warning only
 * shows with G_ENABLE_DIAGNOSTIC=1.) fragment-duration=1 (ms) is shorter than
 * any frame, so every frame is its own moof+mdat and keyframes start theirs.
 */
#define MUXER_DESCRIPTION \
  "mp4mux name=mux fragment-duration=1 streamable=true"
/* Posted on the bus when the video changed and the run must start again. */
#define VIDEO_CHANGED_MESSAGE "hearth-video-changed"

#define H264_CAPS "video/x-h264,stream-format=avc,alignment=au"
#define H265_CAPS "video/x-h265,stream-format=hvc1,alignment=au"

/* Before the run's rtspsrc @src starts (and after
 * hearth_camera_audio_prepare()): its select-stream sets up video and AAC
 * audio, and its pad-added links each stream's head into @ingest, which
 * the handlers hold a reference on until @src is freed. */
void hearth_camera_connect_rtspsrc (GstElement *src, GstElement *ingest);

/* Before @ingest's pipeline starts: watches what goes into its muxer's
 * video input; caps of another picture replace the muxer, or post
 * VIDEO_CHANGED_MESSAGE on the bus where it cannot be replaced. */
void hearth_camera_watch_video (GstElement *ingest);

/* The appsink's new-sample, on its streaming thread; @user_data: a GSource
 * made with hearth_camera_wake_source_funcs. */
GstFlowReturn hearth_camera_on_new_sample (GstAppSink *sink,
                                           gpointer user_data);

/* A GSource that dispatches once each time its ready time is set to 0 from
 * any thread. */
extern const GSourceFuncs hearth_camera_wake_source_funcs;

G_END_DECLS
