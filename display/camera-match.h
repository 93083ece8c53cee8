/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * Which of the household's cameras a person meant: the id, or the name in any
 * case. A name that several cameras share is an error naming them all.
 */
gboolean hearth_display_camera_match (JsonArray *cameras,
                                      const char *wanted,
                                      char **id,
                                      char **name,
                                      GError **error);

G_END_DECLS
