/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A scan of JSON text before it is parsed (see json-text.h): strings are
 * followed, escapes included, so that brackets and "\u0000" are seen only
 * where they mean something. And the JSON helpers its callers share.
 */
#define G_LOG_DOMAIN "hearth-json"

#include "json-text.h"

#include <string.h>

void
hearth_json_scan (const char *text, gsize len, HearthJsonScan *scan)
{
  gboolean in_string = FALSE;
  gboolean escaped = FALSE;
  guint depth = 0;

  g_return_if_fail (text != NULL || len == 0);
  g_return_if_fail (scan != NULL);

  scan->depth = 0;
  scan->has_nul = len > 0 && memchr (text, '\0', len) != NULL;
  for (gsize i = 0; i < len; i++) {
    char c = text[i];

    if (in_string) {
      if (escaped) {
        escaped = FALSE;
        if (c == 'u' && len - i > 4 && memcmp (text + i + 1, "0000", 4) == 0)
          scan->has_nul = TRUE;
      } else if (c == '\\') {
        escaped = TRUE;
      } else if (c == '"') {
        in_string = FALSE;
      }
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '{' || c == '[') {
      depth++;
      scan->depth = MAX (scan->depth, depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      depth--;
    }
  }
}

/**
 * hearth_json_get_string:
 * @object: an object a peer sent
 * @name: a member's name
 *
 * Not json_object_get_string_member_with_default(): a peer's array or
 * object there would make it log a critical warning.
 *
 * Returns: (transfer none) (nullable): the member if it is a string, else NULL.
 */
const char *
hearth_json_get_string (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/**
 * hearth_json_add_string_or_null:
 * @b: a builder inside an object
 * @member: the member's name
 * @value: (nullable): its value
 *
 * Adds @member with @value, or with null when @value is NULL.
 */
void
hearth_json_add_string_or_null (JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name (b, member);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}
