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

G_END_DECLS
