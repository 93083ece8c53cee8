/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hearth-display's camera matching (display/camera-match.c): what a person
 * types after play or check against the gateway's camera list.
 */
#define G_LOG_DOMAIN "test-display-match"

#include <string.h>

#include <json-glib/json-glib.h>

#include "camera-match.h"
#include "error.h"

#define DOOR "3f2d1c4b-0000-4000-8000-000000000001"
#define DOOR_2 "3f2d1c4b-0000-4000-8000-000000000002"
#define DOOR_LOWER "3f2d1c4b-0000-4000-8000-000000000003"
#define KITCHEN "9a8b7c6d-0000-4000-8000-000000000004"

static JsonArray *
cameras_from (const char *json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonNode *root;

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  return json_array_ref (json_object_get_array_member (json_node_get_object (root), "cameras"));
}

/* @wanted finds the camera @expected_id, named @expected_name. */
static void
assert_match (JsonArray *cameras, const char *wanted, const char *expected_id,
              const char *expected_name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *name = NULL;

  g_assert_true (hearth_display_camera_match (cameras, wanted, &id, &name, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (id, ==, expected_id);
  g_assert_cmpstr (name, ==, expected_name);
}

static void
test_unique (void)
{
  g_autoptr (JsonArray) cameras = cameras_from (
      "{\"cameras\": [{\"id\": \"" DOOR "\", \"name\": \"Door\"},"
      "               {\"id\": \"" DOOR_2 "\", \"name\": \"Door 2\"},"
      "               {\"id\": \"" KITCHEN "\", \"name\": \"Küche\"}]}");
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *name = NULL;

  assert_match (cameras, "Door", DOOR, "Door");
  assert_match (cameras, "door", DOOR, "Door");
  assert_match (cameras, "DOOR", DOOR, "Door");
  assert_match (cameras, "door 2", DOOR_2, "Door 2");
  assert_match (cameras, "KÜCHE", KITCHEN, "Küche");
  assert_match (cameras, DOOR_2, DOOR_2, "Door 2");
  assert_match (cameras, "3F2D1C4B-0000-4000-8000-000000000002", DOOR_2, "Door 2");

  /* Names are whole: no prefix, no other spelling. */
  g_assert_false (hearth_display_camera_match (cameras, "Do", &id, &name, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "“Do”"));
  g_assert_null (id);
}

static void
test_ambiguous (void)
{
  g_autoptr (JsonArray) cameras = cameras_from (
      "{\"cameras\": [{\"id\": \"" DOOR "\", \"name\": \"Door\"},"
      "               {\"id\": \"" KITCHEN "\", \"name\": \"Kitchen\"},"
      "               {\"id\": \"" DOOR_LOWER "\", \"name\": \"door\"}]}");
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *name = NULL;

  /* Neither is taken silently, whichever spelling is typed. */
  for (guint i = 0; i < 3; i++) {
    const char *wanted = (const char *[]) { "Door", "door", "dOOR" }[i];

    g_clear_error (&error);
    g_assert_false (hearth_display_camera_match (cameras, wanted, &id, &name, &error));
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS);
    g_assert_null (id);
    /* The message lists both, with their ids, and not the other camera. */
    g_assert_nonnull (strstr (error->message, "2 cameras"));
    g_assert_nonnull (strstr (error->message, DOOR "  Door"));
    g_assert_nonnull (strstr (error->message, DOOR_LOWER "  door"));
    g_assert_null (strstr (error->message, KITCHEN));
  }

  /* Each id still finds its camera. */
  assert_match (cameras, DOOR_LOWER, DOOR_LOWER, "door");
  assert_match (cameras, DOOR, DOOR, "Door");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hearth/display/match/unique", test_unique);
  g_test_add_func ("/hearth/display/match/ambiguous", test_ambiguous);
  return g_test_run ();
}
