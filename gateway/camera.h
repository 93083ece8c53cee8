/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib-object.h>
#include "stream.h"

G_BEGIN_DECLS

/*
 * HearthCamera: one adopted camera's ingest. Owns a GStreamer pipeline
 * (rtspsrc for rtsp:// and rtsps:// URLs; a videotestsrc test pattern for
 * "synthetic:" URLs) that muxes H.264 once into fragmented MP4, one fragment
 * per frame, and feeds its HearthStream on the main context. On error or EOS it
 * reconnects with capped exponential backoff; every (re)start is a new stream
 * generation.
 */
#define HEARTH_TYPE_CAMERA (hearth_camera_get_type ())
G_DECLARE_FINAL_TYPE (HearthCamera, hearth_camera, HEARTH, CAMERA, GObject)

typedef enum {
  HEARTH_CAMERA_STOPPED,
  HEARTH_CAMERA_CONNECTING,
  HEARTH_CAMERA_STREAMING,
  HEARTH_CAMERA_OFFLINE,   /* failed; waiting for the next retry */
} HearthCameraState;

const char *hearth_camera_state_to_string (HearthCameraState state);
/* The state of @camera as a word; "stopped" for NULL (a camera with no
 * running ingest). */
const char *hearth_camera_get_state_name (HearthCamera *camera);

/* @url: rtsp://, rtsps:// or synthetic: (already validated by the caller). */
HearthCamera *hearth_camera_new (const char *id, const char *url);
const char *hearth_camera_get_id (HearthCamera *self);
/* (transfer none) */
HearthStream *hearth_camera_get_stream (HearthCamera *self);
HearthCameraState hearth_camera_get_state (HearthCamera *self);
/* The reason for OFFLINE, for people (never contains credentials). (nullable) */
const char *hearth_camera_get_last_error (HearthCamera *self);

/* From the current generation's caps; FALSE until known. @codec: "h264". */
gboolean hearth_camera_get_video_info (HearthCamera *self, const char **codec,
                                       int *width, int *height, double *fps);

/* Backoff in milliseconds: first retry after @min_ms, doubling to @max_ms.
 * Defaults 500 and 30000. */
void hearth_camera_set_backoff (HearthCamera *self, guint min_ms, guint max_ms);

/* The most its GOP cache may hold (default 8 MiB). */
void hearth_camera_set_gop_cache_bytes (HearthCamera *self, gsize max_bytes);

void hearth_camera_start (HearthCamera *self);
/* Stops the pipeline, ends the stream's generation; no retry. */
void hearth_camera_stop (HearthCamera *self);



/* Signal "state-changed" (HearthCamera *, guint state) on the main context. */

G_END_DECLS
