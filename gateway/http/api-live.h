/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "http-routes.h"
#include "cameras.h"
#include "config.h"

G_BEGIN_DECLS

/* What the route answers (http-routes.h). */
#define HEARTH_API_LIVE_PATTERN "/v1/cameras/{id}/live.mp4"

/* GET /v1/cameras/{id}/live.mp4, with its live writers, which re-check
 * every stream on @cameras' "access-changed". */
void hearth_api_live_register (HearthHttpRoutes *routes, HearthAccess *access,
                               HearthCameras *cameras,
                               const HearthConfig *config);

/* The live.mp4 responses of one stream port (the route's state). */
typedef struct _HearthLiveWriters HearthLiveWriters;
/* With @camera_id, the displays watching it now; with NULL, every live
 * response still open. */
guint hearth_live_writers_get_n (HearthLiveWriters *self, const char *camera_id);

G_END_DECLS
