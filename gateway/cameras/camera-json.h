/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "camera.h"
#include "store.h"

G_BEGIN_DECLS

/*
 * A camera as JSON, the one place it is made (camera-json.c says which
 * member each flag adds, and in which order). Without HEARTH_CAMERA_JSON_ADMIN
 * or HEARTH_CAMERA_JSON_STATS nothing only the admin may see is added: the
 * stream port's /v1/cameras passes HEARTH_CAMERA_JSON_MEDIA alone.
 */
typedef enum {
  HEARTH_CAMERA_JSON_MEDIA = 1 << 0,  /* what live.mp4 carries, as the camera sends it */
  HEARTH_CAMERA_JSON_STATS = 1 << 1,  /* admin: the stream's counters (camera.stats) */
  HEARTH_CAMERA_JSON_ADMIN = 1 << 2,  /* admin: URL, plugin, state, identity (camera.list) */
} HearthCameraJsonFlags;

/* What the admin side knows of a camera besides its row and its ingest. */
typedef struct {
  const char *plugin;   /* HEARTH_CAMERA_JSON_ADMIN: its driver (nullable) */
  gboolean announced;   /* HEARTH_CAMERA_JSON_ADMIN: its mDNS service is resolved now */
  guint displays;       /* HEARTH_CAMERA_JSON_STATS: displays watching it */
} HearthCameraJsonAdmin;

void hearth_camera_json_add (JsonBuilder *b, const HearthCameraRow *row,
                             HearthCamera *camera, HearthCameraJsonFlags flags,
                             const HearthCameraJsonAdmin *admin);

G_END_DECLS
