/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "http-routes.h"
#include "cameras.h"

G_BEGIN_DECLS

/* What the route answers (http-routes.h). */
#define HEARTH_API_SNAPSHOT_PATTERN "/v1/cameras/{id}/snapshot.jpg"

/* GET /v1/cameras/{id}/snapshot.jpg, with its cache of pictures, which
 * forgets a camera's on @cameras' "camera-removed". */
void hearth_api_snapshot_register (HearthHttpRoutes *routes,
                                   HearthAccess *access,
                                   HearthCameras *cameras);

G_END_DECLS
