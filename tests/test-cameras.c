/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for HearthCameras (gateway/cameras/cameras.c): admission, following
 * and quarantine of cameras by their mDNS evidence, without Avahi and
 * without a camera. Each test has a real HearthStore in the fixture's state
 * directory, the camera plugins of this build, and a HearthDiscovery that is
 * never started (no D-Bus, no Avahi): the test emits its "found" signal with
 * what a resolution would have reported (hearth_found_new), which is how
 * announcements reach HearthCameras in hearthd.
 *
 * Cameras are announced on loopback addresses (127.0.0.2, 127.0.0.3) at a
 * port nothing listens on: their ingest goes offline and retries, and the
 * bare connection that checks a move before following it is refused there.
 * Nothing leaves this machine. The access check (HearthAccess on the same
 * store) is asked as a display of the household would ask it.
 */
#define G_LOG_DOMAIN "hearth-test-cameras"

#include <gio/gio.h>
#include <gst/gst.h>

#include "access.h"
#include "cameras.h"
#include "config.h"
#include "discovery.h"
#include "error.h"
#include "fixture.h"
#include "plugins.h"
#include "store.h"

#define DEADLINE_S 20
#define RTSP_TYPE "_rtsp._tcp"

/* What a test runs with: the plugins (loaded once, in main) and its
 * hearth.conf. */
typedef struct {
  HearthPlugins *plugins;
  const char *config;
} Setup;

typedef struct {
  HearthTestFixture base;
  HearthConfig *config;
  HearthStore *store;
  HearthAccess *access;
  HearthDiscovery *discovery;
  HearthCameras *cameras;
  gint64 home;          /* household "Home" */
  gint64 other;         /* household "Next door" */
  guint16 port;         /* a loopback port nothing listens on */
  GPtrArray *events;    /* "access-changed", "camera-removed ID", in order */
  GPtrArray *refused;   /* for each "access-changed": the cameras the
                         * access check refused at that moment */
} Fixture;

/* ---- observers ---- */

static void
on_access_changed (HearthCameras *cameras, gpointer user_data)
{
  Fixture *f = user_data;
  g_autoptr (GPtrArray) rows = hearth_store_camera_list (f->store, 0, NULL);
  GString *refused = g_string_new (NULL);

  g_ptr_array_add (f->events, g_strdup ("access-changed"));
  /* Whoever serves cameras re-checks now: the choke point must already
   * refuse what was taken away. */
  for (guint i = 0; i < rows->len; i++) {
    HearthCameraRow *row = rows->pdata[i];
    HearthDisplayRow display = { .id = 1, .household_id = row->household_id };
    g_autoptr (HearthCameraRow) allowed =
      hearth_access_camera (f->access, &display, row->id, NULL);

    if (allowed == NULL)
      g_string_append_printf (refused, "%s%s", refused->len ? " " : "", row->id);
  }
  g_ptr_array_add (f->refused, g_string_free (refused, FALSE));
}

static void
on_camera_removed (HearthCameras *cameras, const char *id, gpointer user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->events, g_strdup_printf ("camera-removed %s", id));
}

/* @list joined: "access-changed, camera-removed ID". (transfer full) */
static char *
joined (GPtrArray *list)
{
  g_autoptr (GString) s = g_string_new (NULL);

  for (guint i = 0; i < list->len; i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", (char *) list->pdata[i]);
  return g_strdup (s->str);
}

static char *
events (Fixture *f)
{
  return joined (f->events);
}

/* The follow probe (a bare connection that checks a camera's new address)
 * holds a reference to HearthCameras until its answer is handled. */
static gboolean
no_probe_pending (gpointer data)
{
  return G_OBJECT (data)->ref_count == 1;
}

/* ---- set-up ---- */

static gint64
household (Fixture *f, const char *name)
{
  g_autoptr (GError) error = NULL;
  gint64 id;

  /* HearthCameras never reads the household's CA. */
  id = hearth_store_household_add (f->store, name, "test CA certificate",
                                   "test CA key", &error);
  g_assert_no_error (error);
  return id;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  const Setup *setup = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *db = NULL;
  const char *const types[] = { RTSP_TYPE, NULL };

  hearth_test_fixture_setup (&f->base, NULL);
  f->config = hearth_config_load_data (setup->config, strlen (setup->config),
                                       "test.conf", &error);
  g_assert_no_error (error);
  db = g_build_filename (f->base.state_dir, "hearth.db", NULL);
  f->store = hearth_store_open (db, &error);
  g_assert_no_error (error);
  f->access = hearth_access_new (f->store, f->config->local_ranges);
  f->discovery = hearth_discovery_new (types, f->config->local_ranges);
  f->cameras = hearth_cameras_new (f->config, f->store, setup->plugins);
  hearth_cameras_set_discovery (f->cameras, f->discovery);
  f->home = household (f, "Home");
  f->other = household (f, "Next door");
  f->port = hearth_test_closed_port ();
  f->events = g_ptr_array_new_with_free_func (g_free);
  f->refused = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (f->cameras, "access-changed", G_CALLBACK (on_access_changed), f);
  g_signal_connect (f->cameras, "camera-removed", G_CALLBACK (on_camera_removed), f);
  g_assert_true (hearth_cameras_start (f->cameras, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  hearth_cameras_stop (f->cameras);
  g_clear_object (&f->cameras);
  g_clear_object (&f->discovery);
  g_clear_object (&f->access);
  g_clear_object (&f->store);
  g_clear_pointer (&f->config, hearth_config_free);
  g_clear_pointer (&f->events, g_ptr_array_unref);
  g_clear_pointer (&f->refused, g_ptr_array_unref);
  hearth_test_fixture_teardown (&f->base, NULL);
}

/* ---- announcements ---- */

/* What mDNS would report for an RTSP camera @name at @address (the fixture's
 * port, path /live), with TXT @key=@value (@key nullable). */
static HearthFound *
rtsp_found (Fixture *f, const char *name, const char *address, const char *key,
            const char *value)
{
  g_autoptr (GHashTable) txt = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, g_free);
  g_autofree char *found_key = hearth_discovery_key (RTSP_TYPE, name, "local");

  g_hash_table_insert (txt, g_strdup ("path"), g_strdup ("/live"));
  if (key != NULL)
    g_hash_table_insert (txt, g_strdup (key), g_strdup (value));
  return hearth_found_new (found_key, &(HearthService) {
      .type = RTSP_TYPE, .name = name, .domain = "local",
      .host_name = "camera.local", .address = address, .port = f->port,
      .txt = txt });
}

static void
announce (Fixture *f, const char *name, const char *address, const char *key,
          const char *value)
{
  g_autoptr (HearthFound) found = rtsp_found (f, name, address, key, value);

  g_signal_emit_by_name (f->discovery, "found", found);
}

static char *
url_at (Fixture *f, const char *address)
{
  return g_strdup_printf ("rtsp://%s:%u/live", address, f->port);
}

/* The one camera of the store. (transfer full) */
static HearthCameraRow *
only_camera (Fixture *f)
{
  g_autoptr (GPtrArray) rows = hearth_store_camera_list (f->store, 0, NULL);

  g_assert_nonnull (rows);
  g_assert_cmpuint (rows->len, ==, 1);
  return hearth_store_camera_get (f->store, ((HearthCameraRow *) rows->pdata[0])->id,
                                  NULL);
}

/* Adopted into Home with @serial, its credentials stored (nullable), and
 * started, as hearthctl camera adopt leaves it. Returns its id. */
static char *
adopt (Fixture *f, const char *name, const char *address, const char *serial,
       const char *user, const char *password)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *url = url_at (f, address);
  g_autoptr (HearthCameraRow) row = NULL;
  HearthCameraEvidence evidence = {
    .mdns_type = RTSP_TYPE, .mdns_name = (char *) name, .txt_serial = (char *) serial,
  };
  char *id = hearth_store_camera_adopt (f->store, f->home, name, url, NULL, NULL, "rtsp",
                                        &evidence, user, password, &error);

  g_assert_no_error (error);
  row = hearth_store_camera_get (f->store, id, &error);
  g_assert_no_error (error);
  hearth_cameras_start_one (f->cameras, row);
  g_assert_nonnull (hearth_cameras_lookup (f->cameras, id));
  return id;
}

/* What a display of @household gets for @id: the row, or NULL and @error. */
static HearthCameraRow *
access_as (Fixture *f, gint64 household_id, const char *id, GError **error)
{
  HearthDisplayRow display = { .id = 7, .household_id = household_id };

  return hearth_access_camera (f->access, &display, id, error);
}

typedef struct {
  Fixture *f;
  const char *id;
  const char *url;
} UrlWait;

static gboolean
camera_has_url (gpointer data)
{
  UrlWait *w = data;
  g_autoptr (HearthCameraRow) row = hearth_store_camera_get (w->f->store, w->id, NULL);

  return row != NULL && g_strcmp0 (row->url, w->url) == 0;
}

typedef struct {
  Fixture *f;
  const char *id;
} IngestWait;

/* @id's ingest failed its first connection (and logged it). */
static gboolean
camera_offline (gpointer data)
{
  IngestWait *w = data;
  HearthCamera *camera = hearth_cameras_lookup (w->f->cameras, w->id);

  return camera != NULL && hearth_camera_get_state (camera) == HEARTH_CAMERA_OFFLINE;
}

/* ---- tests ---- */

/* A camera announced with its serial is adopted (auto-adopt) with that
 * evidence, ingested, and served to its household only; announced again,
 * it is the same camera, not a second one. */
static void
test_found_is_admitted (Fixture *f, gconstpointer data)
{
  g_autoptr (HearthCameraRow) row = NULL;
  g_autoptr (HearthCameraRow) allowed = NULL;
  g_autoptr (HearthCameraRow) theirs = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = url_at (f, "127.0.0.2");
  g_autofree char *seen = NULL;

  announce (f, "Door", "127.0.0.2", "serial", "SN-A");

  row = only_camera (f);
  g_assert_cmpint (row->household_id, ==, f->home);
  g_assert_cmpstr (row->name, ==, "Door");
  g_assert_cmpstr (row->url, ==, url);
  g_assert_cmpstr (row->plugin, ==, "rtsp");
  g_assert_cmpstr (row->evidence.mdns_type, ==, RTSP_TYPE);
  g_assert_cmpstr (row->evidence.mdns_name, ==, "Door");
  g_assert_cmpstr (row->evidence.txt_serial, ==, "SN-A");
  g_assert_null (row->evidence.txt_mac);
  g_assert_null (row->evidence.neighbour_mac);
  g_assert_cmpint (row->quarantined_at, ==, 0);
  g_assert_nonnull (hearth_cameras_lookup (f->cameras, row->id));
  g_assert_cmpuint (hearth_cameras_get_n (f->cameras), ==, 1);

  allowed = access_as (f, f->home, row->id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (allowed);
  theirs = access_as (f, f->other, row->id, &error);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_assert_null (theirs);
  g_clear_error (&error);

  /* The same announcement again, and again with its address unchanged:
   * known, nothing adopted twice, nothing taken away. */
  announce (f, "Door", "127.0.0.2", "serial", "SN-A");
  g_clear_pointer (&row, hearth_camera_row_free);
  row = only_camera (f);
  g_assert_cmpstr (row->url, ==, url);
  g_assert_cmpuint (hearth_cameras_get_n (f->cameras), ==, 1);
  seen = events (f);
  g_assert_cmpstr (seen, ==, "");
}

/* The same serial announced at a new address: the camera is followed there
 * (its bare connection is refused, and it has neither a recorded MAC nor
 * credentials to give away), restarted as a new ingest, and still served. */
static void
test_followed_to_new_address (Fixture *f, gconstpointer data)
{
  g_autofree char *id = adopt (f, "Door", "127.0.0.2", "SN-A", NULL, NULL);
  g_autofree char *there = url_at (f, "127.0.0.3");
  g_autofree char *removed = g_strdup_printf ("camera-removed %s", id);
  g_autofree char *seen = NULL;
  g_autoptr (HearthCameraRow) row = NULL;
  g_autoptr (GError) error = NULL;
  UrlWait moved = { f, id, there };

  announce (f, "Door", "127.0.0.3", "serial", "SN-A");
  g_assert_true (hearth_test_wait_for (&f->base, camera_has_url, &moved, DEADLINE_S));

  row = access_as (f, f->home, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (row->url, ==, there);
  g_assert_cmpint (row->quarantined_at, ==, 0);
  g_assert_nonnull (hearth_cameras_lookup (f->cameras, id));
  /* Its old ingest is gone: a new one runs (a new generation). */
  seen = events (f);
  g_assert_cmpstr (seen, ==, removed);
}

/* A camera with credentials and no recorded MAC is not followed on an
 * announcement alone: its credentials would go to whatever answers there. */
static void
test_not_followed_with_credentials (Fixture *f, gconstpointer data)
{
  g_autofree char *id = adopt (f, "Door", "127.0.0.2", "SN-A", "admin", "secret");
  g_autofree char *here = url_at (f, "127.0.0.2");
  g_autoptr (HearthCameraRow) row = NULL;
  g_autofree char *seen = NULL;

  g_test_expect_message ("hearth-cameras", G_LOG_LEVEL_WARNING,
                         "*announced at 127.0.0.3, but nothing proves it is the "
                         "same device and it has credentials: not followed*");
  announce (f, "Door", "127.0.0.3", "serial", "SN-A");
  g_test_assert_expected_messages ();
  g_assert_true (no_probe_pending (f->cameras));

  row = hearth_store_camera_get (f->store, id, NULL);
  g_assert_cmpstr (row->url, ==, here);
  g_assert_cmpint (row->quarantined_at, ==, 0);
  seen = events (f);
  g_assert_cmpstr (seen, ==, "");
}

/* Another device's serial announced at a camera's address quarantines the
 * camera: the store says so first, then "access-changed" (when the access
 * check already refuses it), then "camera-removed" as its ingest stops. It
 * is not started again, and the device is not adopted in its place. */
static void
test_other_device_quarantines (Fixture *f, gconstpointer data)
{
  g_autofree char *id = adopt (f, "Door", "127.0.0.2", "SN-A", NULL, NULL);
  g_autofree char *expected = g_strdup_printf ("access-changed, camera-removed %s", id);
  g_autofree char *seen = NULL;
  g_autoptr (HearthCameraRow) row = NULL;
  g_autoptr (HearthCameraRow) allowed = NULL;
  g_autoptr (GError) error = NULL;

  g_test_expect_message ("hearth-cameras", G_LOG_LEVEL_WARNING,
                         "*quarantined: another device announces itself at its "
                         "address: its TXT serial is now SN-B, not SN-A*");
  announce (f, "Door", "127.0.0.2", "serial", "SN-B");
  g_test_assert_expected_messages ();

  seen = events (f);
  g_assert_cmpstr (seen, ==, expected);
  g_assert_cmpuint (f->refused->len, ==, 1);
  g_assert_cmpstr (f->refused->pdata[0], ==, id);

  row = hearth_store_camera_get (f->store, id, NULL);
  g_assert_cmpint (row->quarantined_at, !=, 0);
  g_assert_nonnull (strstr (row->quarantine_reason, "TXT serial is now SN-B"));
  allowed = access_as (f, f->home, id, &error);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_QUARANTINED);
  g_assert_null (allowed);
  g_assert_null (hearth_cameras_lookup (f->cameras, id));

  /* Starting it from its row (as a restart would) ingests nothing. */
  hearth_cameras_start_one (f->cameras, row);
  g_assert_null (hearth_cameras_lookup (f->cameras, id));
  g_assert_cmpuint (hearth_cameras_get_n (f->cameras), ==, 0);

  /* Announced again: already quarantined, nothing more happens, and the
   * device is not adopted in its place. */
  announce (f, "Door", "127.0.0.2", "serial", "SN-B");
  g_clear_pointer (&seen, g_free);
  seen = events (f);
  g_assert_cmpstr (seen, ==, expected);
  g_clear_pointer (&row, hearth_camera_row_free);
  row = only_camera (f);
  g_assert_cmpstr (row->id, ==, id);
}

/* After a power cut two adopted cameras may swap addresses: the other one's
 * serial at a camera's address is not another device, and quarantines
 * nothing. (The other camera is not followed onto an address a camera
 * streams from either, without its MAC to prove it.) */
static void
test_swapped_cameras_not_quarantined (Fixture *f, gconstpointer data)
{
  g_autofree char *a = adopt (f, "Door", "127.0.0.2", "SN-A", NULL, NULL);
  g_autofree char *b = adopt (f, "Garden", "127.0.0.3", "SN-B", NULL, NULL);
  g_autoptr (HearthCameraRow) row_a = NULL;
  g_autoptr (HearthCameraRow) row_b = NULL;
  g_autofree char *seen = NULL;
  g_autofree char *url_b = url_at (f, "127.0.0.3");

  g_autofree char *refused = NULL;
  IngestWait offline_a = { f, a }, offline_b = { f, b };

  /* While a warning is expected every other message is fatal: their
   * ingests have said they are offline first. */
  g_assert_true (hearth_test_wait_for (&f->base, camera_offline, &offline_a, DEADLINE_S));
  g_assert_true (hearth_test_wait_for (&f->base, camera_offline, &offline_b, DEADLINE_S));
  refused = g_strdup_printf ("*Camera %s (“Garden”) announces itself at "
                             "rtsp://127.0.0.2:%u/live, where camera %s streams from: "
                             "not followed*", b, f->port, a);
  g_test_expect_message ("hearth-cameras", G_LOG_LEVEL_WARNING, refused);
  announce (f, "Garden", "127.0.0.2", "serial", "SN-B");
  /* Camera B's move is checked by a bare connection first: its answer
   * comes on the main context. */
  g_assert_false (no_probe_pending (f->cameras));
  g_assert_true (hearth_test_wait_for (&f->base, no_probe_pending, f->cameras,
                                       DEADLINE_S));
  g_test_assert_expected_messages ();

  row_a = hearth_store_camera_get (f->store, a, NULL);
  row_b = hearth_store_camera_get (f->store, b, NULL);
  g_assert_cmpint (row_a->quarantined_at, ==, 0);
  g_assert_cmpint (row_b->quarantined_at, ==, 0);
  g_assert_cmpstr (row_b->url, ==, url_b);
  seen = events (f);
  g_assert_cmpstr (seen, ==, "");
}

/* A camera whose row went (removed, or its household deleted) is cut after
 * "access-changed", when it is already refused. */
static void
test_removed_row_stops_ingest (Fixture *f, gconstpointer data)
{
  g_autofree char *id = adopt (f, "Door", "127.0.0.2", "SN-A", NULL, NULL);
  g_autofree char *keep = adopt (f, "Garden", "127.0.0.3", "SN-B", NULL, NULL);
  g_autofree char *expected = g_strdup_printf ("access-changed, camera-removed %s", id);
  g_autofree char *seen = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (hearth_store_camera_remove (f->store, id, &error));
  g_assert_no_error (error);
  hearth_cameras_access_changed (f->cameras);

  seen = events (f);
  g_assert_cmpstr (seen, ==, expected);
  g_assert_cmpstr (f->refused->pdata[0], ==, "");
  g_assert_null (hearth_cameras_lookup (f->cameras, id));
  g_assert_nonnull (hearth_cameras_lookup (f->cameras, keep));
  g_assert_cmpuint (hearth_cameras_get_n (f->cameras), ==, 1);

  /* Stopping the whole table is not a removal. */
  hearth_cameras_stop (f->cameras);
  g_assert_cmpuint (hearth_cameras_get_n (f->cameras), ==, 0);
  g_clear_pointer (&seen, g_free);
  seen = events (f);
  g_assert_cmpstr (seen, ==, expected);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthPlugins) plugins = NULL;
  /* Long backoffs: an offline camera does not retry during a test. */
  Setup auto_adopt = {
    .config = "[discovery]\nauto-adopt = Home\n"
              "[cameras]\nbackoff-min-ms = 60000\nbackoff-max-ms = 60000\n",
  };
  Setup manual = {
    .config = "[cameras]\nbackoff-min-ms = 60000\nbackoff-max-ms = 60000\n",
  };

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  plugins = hearth_plugins_load (hearth_plugins_default_dir (), &error);
  g_assert_no_error (error);
  auto_adopt.plugins = manual.plugins = plugins;

#define ADD(path, setup, func) \
  g_test_add ((path), Fixture, (setup), fixture_setup, (func), fixture_teardown)
  ADD ("/hearth/cameras/found-is-admitted", &auto_adopt, test_found_is_admitted);
  ADD ("/hearth/cameras/followed-to-new-address", &manual, test_followed_to_new_address);
  ADD ("/hearth/cameras/not-followed-with-credentials", &manual,
       test_not_followed_with_credentials);
  ADD ("/hearth/cameras/other-device-quarantines", &auto_adopt,
       test_other_device_quarantines);
  ADD ("/hearth/cameras/swapped-cameras-not-quarantined", &manual,
       test_swapped_cameras_not_quarantined);
  ADD ("/hearth/cameras/removed-row-stops-ingest", &manual, test_removed_row_stops_ingest);
#undef ADD

  return g_test_run ();
}
