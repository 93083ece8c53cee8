/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "http-routes.h"
#include "cameras.h"

G_BEGIN_DECLS

/* What the route answers (http-routes.h). */
#define HEARTH_API_CAMERAS_PATTERN "/v1/cameras"

/* GET /v1/cameras: the cameras the display may see. */
void hearth_api_cameras_register (HearthHttpRoutes *routes,
                                  HearthCameras *cameras);

/* 503 "unavailable" with Retry-After for an authorised camera that has no
 * stream to serve now: not running (or @camera NULL: not started), offline,
 * or no picture yet. */
void hearth_api_camera_reply_not_ready (SoupServerMessage *msg,
                                        HearthCamera *camera);
/* The stream of @camera if its current generation can be served from its
 * start (an init segment and a keyframe); else NULL, with @msg answered by
 * hearth_api_camera_reply_not_ready(). (transfer none) (nullable) */
HearthStream *hearth_api_camera_ready_stream (SoupServerMessage *msg,
                                              HearthCamera *camera);

/* Which stream of @row @request asks for by its "stream" parameter: none
 * or "main" the main one, "sub" the sub one. FALSE with @request answered
 * for any other value (400) and for "sub" when the camera has none (404). */
gboolean hearth_api_camera_stream_kind (HearthHttpRequest *request,
                                        const HearthCameraRow *row,
                                        HearthStreamKind *kind);
/* The ingest of camera @id's stream @kind: the camera's own for the main
 * stream, its sub stream's for the sub one; NULL when it has none running.
 * (transfer none) (nullable) */
HearthCamera *hearth_api_camera_lookup (HearthCameras *cameras, const char *id,
                                        HearthStreamKind kind);

G_END_DECLS
