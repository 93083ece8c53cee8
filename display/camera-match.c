/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Finding a camera by what a person typed on hearth-display's command line,
 * among the "cameras" of GET /v1/cameras (watch.c asks for the list).
 *
 * An id matches exactly (any case: ids are UUIDs). A name matches
 * case-insensitively, Unicode case folding after normalisation, so "door",
 * "DOOR" and "Door" are one name; "Door 2" is another. Taking the first of
 * several cameras that answer to one name would show the wrong camera
 * without a word, so that is an error listing each of them with its id.
 */
#define G_LOG_DOMAIN "hearth-display-match"

#include "camera-match.h"

#include "error.h"

/* Most cameras an ambiguous name's message lists. */
#define MAX_LISTED 10

static const char *
member_string (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* @text folded for comparison, or NULL if it is not UTF-8. */
static char *
fold (const char *text)
{
  g_autofree char *normal = NULL;

  if (!g_utf8_validate (text, -1, NULL))
    return NULL;
  normal = g_utf8_normalize (text, -1, G_NORMALIZE_ALL);
  return normal != NULL ? g_utf8_casefold (normal, -1) : NULL;
}

/**
 * hearth_display_camera_match:
 * @cameras: the "cameras" array of the gateway's camera list
 * @wanted: an id or a name, as typed
 * @id: (out) (transfer full): the camera's id
 * @name: (out) (transfer full): its name (its id if it has none)
 *
 * Returns: TRUE with @id and @name set; FALSE with HEARTH_ERROR_NOT_FOUND if
 *   no camera answers to @wanted, HEARTH_ERROR_EXISTS if several do.
 */
gboolean
hearth_display_camera_match (JsonArray *cameras,
                             const char *wanted,
                             char **id,
                             char **name,
                             GError **error)
{
  g_autofree char *wanted_folded = fold (wanted);
  g_autoptr (GPtrArray) matches = g_ptr_array_new ();
  guint n = json_array_get_length (cameras);
  JsonObject *found;
  const char *found_name;

  for (guint i = 0; i < n; i++) {
    JsonNode *node = json_array_get_element (cameras, i);
    const char *cam_id;

    if (!JSON_NODE_HOLDS_OBJECT (node))
      continue;
    /* A camera without an id cannot be asked for. */
    cam_id = member_string (json_node_get_object (node), "id");
    if (cam_id == NULL)
      continue;
    if (g_ascii_strcasecmp (cam_id, wanted) == 0) {
      g_ptr_array_set_size (matches, 0);
      g_ptr_array_add (matches, json_node_get_object (node));
      break;
    }
    if (wanted_folded != NULL) {
      const char *cam_name = member_string (json_node_get_object (node), "name");
      g_autofree char *cam_folded = cam_name != NULL ? fold (cam_name) : NULL;

      if (cam_folded != NULL && g_str_equal (cam_folded, wanted_folded))
        g_ptr_array_add (matches, json_node_get_object (node));
    }
  }

  if (matches->len == 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                 "not found: the household has no camera with id or name “%s” "
                 "(see “hearth-display list”)", wanted);
    return FALSE;
  }
  if (matches->len > 1) {
    g_autoptr (GString) list = g_string_new (NULL);

    for (guint i = 0; i < matches->len && i < MAX_LISTED; i++) {
      const char *cam_name = member_string (matches->pdata[i], "name");
      const char *cam_id = member_string (matches->pdata[i], "id");

      g_string_append_printf (list, "\n  %s  %s", cam_id, cam_name != NULL ? cam_name : "-");
    }
    if (matches->len > MAX_LISTED)
      g_string_append_printf (list, "\n  … and %u more", matches->len - MAX_LISTED);
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
                 "%u cameras are named “%s”; give the id of the one you mean:%s",
                 matches->len, wanted, list->str);
    return FALSE;
  }

  found = matches->pdata[0];
  found_name = member_string (found, "name");
  *id = g_strdup (member_string (found, "id"));
  *name = g_strdup (found_name != NULL ? found_name : *id);
  return TRUE;
}
