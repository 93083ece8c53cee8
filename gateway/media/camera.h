/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib-object.h>
#include <gst/gst.h>

#include "stream.h"

G_BEGIN_DECLS

/*
 * HearthCamera: one adopted camera's ingest. Owns a GStreamer pipeline
 * (rtspsrc for rtsp:// and rtsps:// URLs; for other URLs the element a
 * source func, i.e. a plugin, builds) that muxes H.264 or H.265 (RTSP only),
 * passed through, once into fragmented MP4, one fragment per frame, and feeds its HearthStream on the main
 * context, once an optional admit func let the run through. On error or EOS
 * it reconnects with capped exponential backoff; every (re)start is a new
 * stream generation.
 */
#define HEARTH_TYPE_CAMERA (hearth_camera_get_type ())
G_DECLARE_FINAL_TYPE (HearthCamera, hearth_camera, HEARTH, CAMERA, GObject)

typedef enum {
  HEARTH_CAMERA_STOPPED,
  HEARTH_CAMERA_CONNECTING,
  HEARTH_CAMERA_STREAMING,
  HEARTH_CAMERA_OFFLINE,   /* failed; waiting for the next retry */
  HEARTH_CAMERA_REFUSED,   /* the admit func said no; no retry */
} HearthCameraState;

const char *hearth_camera_state_to_string (HearthCameraState state);
/* The state of @camera as a word; "stopped" for NULL (a camera with no
 * running ingest). */
const char *hearth_camera_get_state_name (HearthCamera *camera);

/* Builds the source of a camera whose URL the gateway does not ingest itself
 * (a plugin's build_source): an element with an always "src" pad giving
 * H.264. (transfer floating) */
typedef GstElement *(*HearthCameraSourceFunc) (const char *url,
                                               GError **error);

/*
 * The admission gate (invariant 5). Called on the main context once per
 * run, after the pipeline produced its first output (so rtspsrc has
 * connected) and before any of it goes into the stream. FALSE refuses the
 * run: nothing of it is served, it is not retried, the state becomes
 * REFUSED and *@reason (transfer full, for people, no secrets; may be left
 * NULL) becomes the last error. It may stop or restart the camera.
 */
typedef gboolean (*HearthCameraAdmitFunc) (HearthCamera *camera,
                                           char **reason,
                                           gpointer user_data);

/* @url: rtsp:// or rtsps://, or a URL the source func takes (already
 * validated by the caller). */
HearthCamera *hearth_camera_new (const char *id, const char *url);
const char *hearth_camera_get_id (HearthCamera *self);
/* As given to hearth_camera_new(); may hold credentials: never log it. */
const char *hearth_camera_get_url (HearthCamera *self);
/* (transfer none) */
HearthStream *hearth_camera_get_stream (HearthCamera *self);
HearthCameraState hearth_camera_get_state (HearthCamera *self);
/* The reason for OFFLINE or REFUSED, for people (never contains
 * credentials). (nullable) */
const char *hearth_camera_get_last_error (HearthCamera *self);

/* From the current generation's caps; FALSE until known. @codec: "h264" or
 * "h265". */
gboolean hearth_camera_get_video_info (HearthCamera *self, const char **codec,
                                       int *width, int *height, double *fps);

/* The current run's audio: @codec "aac" if its MP4 has the camera's audio
 * track, "none" if not, NULL before its init segment; @source what the
 * camera sends for that track ("aac", or "pcma"/"pcmu" transcoded to AAC),
 * or NULL; @ignored why the camera's audio is not taken (not AAC nor
 * G.711, or it stalled the stream), or NULL. Valid until the next run. */
void hearth_camera_get_audio_info (HearthCamera *self, const char **codec,
                                   const char **source, const char **ignored);

/* The camera's second, smaller stream (an ONVIF camera's second profile),
 * ingested by a HearthCamera of its own (same id, a HEARTH_STREAM_SUB
 * stream) that takes every setting of this one, and starts, stops and is
 * refused with it; its "certificate-changed" is this camera's. @url
 * validated as the main one; NULL: none. Before hearth_camera_start(). */
void hearth_camera_set_sub_url (HearthCamera *self, const char *url);
/* (transfer none) (nullable) the sub stream's ingest */
HearthCamera *hearth_camera_get_sub (HearthCamera *self);
/* HEARTH_STREAM_SUB for the ingest hearth_camera_get_sub() returns. */
HearthStreamKind hearth_camera_get_kind (HearthCamera *self);

/* Backoff in milliseconds: first retry after @min_ms, doubling to @max_ms.
 * Defaults 500 and 30000. */
void hearth_camera_set_backoff (HearthCamera *self, guint min_ms, guint max_ms);

/* The most its GOP cache may hold (default 8 MiB). */
void hearth_camera_set_gop_cache_bytes (HearthCamera *self, gsize max_bytes);

/* NULL (the default): the URL must be rtsp:// or rtsps:// and the gateway
 * ingests it with rtspsrc. Otherwise each run is func (url) ! h264parse !
 * mp4mux ! appsink. From the next run on. */
void hearth_camera_set_source_func (HearthCamera *self,
                                    HearthCameraSourceFunc func);
/* rtspsrc's user-id and user-pw, in place of credentials in the URL (@user
 * NULL: back to the URL's). Copied; the copies are overwritten when replaced
 * or freed, never logged. From the next run on. */
void hearth_camera_set_credentials (HearthCamera *self, const char *user,
                                    const char *password);
/* rtsps:// only: the SHA-256 (of the DER, 64 lower-case hex) of the
 * certificate the camera must present; NULL (the default): trust on first
 * use, any certificate but the same one for the whole run. Another one
 * fails the TLS handshake (no RTSP request is sent), the run ends REFUSED
 * with no retry and "certificate-changed" is emitted. From the next run on:
 * set it before hearth_camera_start(). */
void hearth_camera_set_pinned_certificate (HearthCamera *self,
                                           const char *sha256_hex);
/* The SHA-256 (as above) of the certificate the current run's peer
 * presented, or NULL: rtsp:// (or a plugin's source), not connected yet,
 * no run, or a certificate that GLib accepted without asking (signed by a
 * CA of the system for the URL's host: never for a self-signed one). On the
 * main context; readable in the admit func. (nullable) */
const char *hearth_camera_get_peer_certificate (HearthCamera *self);
/* The admission gate (see HearthCameraAdmitFunc); NULL admits every run.
 * @destroy frees @user_data when replaced or when the camera is disposed. */
void hearth_camera_set_admit_func (HearthCamera *self,
                                   HearthCameraAdmitFunc func,
                                   gpointer user_data,
                                   GDestroyNotify destroy);

void hearth_camera_start (HearthCamera *self);
/* Ends any run and stays REFUSED with @reason, never dialling (e.g. its
 * address is outside the local networks in force). */
void hearth_camera_refuse (HearthCamera *self, const char *reason);
/* The reason a camera that refused its credentials gives (RTSP 401, or its
 * ONVIF service's NotAuthorized). */
#define HEARTH_CAMERA_NOT_AUTHORIZED "the camera refused the user name or password"
/* Stops the pipeline, ends the stream's generation; no retry. */
void hearth_camera_stop (HearthCamera *self);

/* Signal "state-changed" (HearthCamera *, guint state) on the main context.
 * Signal "certificate-changed" (HearthCamera *, const char *seen_sha256_hex)
 * on the main context, once per run refused for presenting another
 * certificate than the pinned one (or than its own first one), after the
 * state became REFUSED: for the daemon to quarantine the camera. */

G_END_DECLS
