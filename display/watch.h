/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "client.h"

G_BEGIN_DECLS

/*
 * The household's cameras as a display sees them: the list, the headless
 * check (frames, stamps, latency) and the player.
 */

typedef struct {
  const char *camera;      /* id or name, as a person typed it */
  guint frames;            /* stop after this many access units */
  gboolean require_stamps; /* a frame without a test stamp fails the check */
  gboolean decode;         /* decode every frame; decode errors fail the check */
  double max_gap_s;        /* a longer gap between two frames of one response
                            * fails the check; 0: reported only */
  gboolean have_expected;  /* implies require_stamps; else the first stamp's id
                            * is expected */
  guint8 expected[16];     /* camera stamp id every frame must carry */
  guint timeout_s;         /* whole check, from the request on */
  const char *frame_log;   /* (nullable) a line per frame, for isolation tests */
  gboolean follow;         /* connect again when the stream ends cleanly */
  const char *stream;      /* (nullable) "main" or "sub": which of the camera's
                            * streams (default: the gateway's, the main one) */
} HearthCheckOptions;

gboolean hearth_display_list_cameras (HearthDisplayClient *client,
                                      gboolean raw_json,
                                      GError **error);

gboolean hearth_display_check (HearthDisplayClient *client,
                               const HearthCheckOptions *options,
                               gboolean *passed,
                               GError **error);

gboolean hearth_display_play (HearthDisplayClient *client,
                              const char *camera,
                              const char *stream,
                              const char *sink,
                              gboolean *passed,
                              GError **error);

G_END_DECLS
