/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * What a JSON text holds that json-glib does not say: how deep it nests, and
 * whether a string holds a NUL character (a \u0000 escape or a raw NUL
 * byte), at which json-glib silently cuts the string.
 */
typedef struct {
  guint depth;       /* the deepest nesting of objects and arrays */
  gboolean has_nul;  /* a NUL character anywhere */
} HearthJsonScan;

void hearth_json_scan (const char *text, gsize len, HearthJsonScan *scan);

const char *hearth_json_get_string (JsonObject *object, const char *name);

/* Adds @member: @value, or null when @value is NULL. */
void hearth_json_add_string_or_null (JsonBuilder *b, const char *member,
                                     const char *value);

G_END_DECLS
