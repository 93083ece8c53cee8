/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of HearthStore: the file it creates, migrations, households, cameras,
 * displays, pairing redemption (including two connections racing for one
 * token) and the audit log. Each test works on a fresh database in its own
 * temporary directory and only looks through the store API and the file system.
 */
#define G_LOG_DOMAIN "hearth-test-store"

#include "error.h"
#include "fixture.h"
#include "hearth-schema.h"
#include "store-private.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#define FAKE_CA_CERT "-----BEGIN CERTIFICATE-----\nZmFrZSBjYQ==\n-----END CERTIFICATE-----\n"
#define FAKE_CA_KEY "-----BEGIN PRIVATE KEY-----\nZmFrZSBrZXk=\n-----END PRIVATE KEY-----\n"
#define TOKEN "0123456789abcdef0123456789abcdef"
#define TEN_MINUTES (10 * 60 * G_USEC_PER_SEC)

typedef struct {
  HearthTestFixture base;  /* the database in its state directory */
  char *path;
  HearthStore *store;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  hearth_test_fixture_setup (&f->base, NULL);
  f->path = g_build_filename (f->base.state_dir, "hearth.db", NULL);
  f->store = hearth_store_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->store);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->store);
  g_free (f->path);
  hearth_test_fixture_teardown (&f->base, NULL);
}

/* The number of migrations compiled in, counted independently of the store. */
static int
newest_schema_version (void)
{
  g_auto (GStrv) names = g_resource_enumerate_children (hearth_schema_get_resource (),
                                                        "/org/hearth/schema/", 0, NULL);

  g_assert_nonnull (names);
  return (int) g_strv_length (names);
}

static gint64
add_household (HearthStore *store, const char *name)
{
  g_autoptr (GError) error = NULL;
  gint64 id = hearth_store_household_add (store, name, FAKE_CA_CERT, FAKE_CA_KEY, &error);

  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static void
hash_token (const char *token, guint8 hash[32])
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize len = 32;

  g_checksum_update (checksum, (const guchar *) token, -1);
  g_checksum_get_digest (checksum, hash, &len);
  g_assert_cmpuint (len, ==, 32);
}

static gint64
open_window (HearthStore *store, gint64 household_id, const char *token,
             gint64 expires_at)
{
  g_autoptr (GError) error = NULL;
  guint8 hash[32];
  gint64 id;

  hash_token (token, hash);
  id = hearth_store_pairing_window_add (store, household_id, hash, expires_at, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

/* Stands in for pki.c: a fake certificate and its SHA-256. */
typedef struct {
  guint calls;
  gint64 display_id;
  char *household;
  char *cert_pem;
  char *fingerprint;
  gboolean fail;
} Issuer;

static void
issuer_clear (Issuer *issuer)
{
  g_clear_pointer (&issuer->household, g_free);
  g_clear_pointer (&issuer->cert_pem, g_free);
  g_clear_pointer (&issuer->fingerprint, g_free);
}

static gboolean
fake_issue (const HearthHousehold *household, gint64 display_id, gpointer user_data,
            char **cert_pem, char **fingerprint, GError **error)
{
  Issuer *issuer = user_data;

  issuer_clear (issuer);
  issuer->calls++;
  issuer->display_id = display_id;
  issuer->household = g_strdup (household->name);
  if (issuer->fail) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS,
                 "the display key is not ECDSA P-256");
    return FALSE;
  }
  issuer->cert_pem = g_strdup_printf ("-----BEGIN CERTIFICATE-----\ndisplay %"
                                      G_GINT64_FORMAT " of %s\n"
                                      "-----END CERTIFICATE-----\n",
                                      display_id, household->name);
  issuer->fingerprint = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
                                                       issuer->cert_pem, -1);
  *cert_pem = g_strdup (issuer->cert_pem);
  *fingerprint = g_strdup (issuer->fingerprint);
  return TRUE;
}

static HearthDisplayRow *
redeem (HearthStore *store, const char *token, gint64 now, const char *name,
        Issuer *issuer, GError **error)
{
  guint8 hash[32];

  hash_token (token, hash);
  return hearth_store_pairing_redeem (store, hash, now, name, fake_issue, issuer,
                                      NULL, error);
}

static guint
count_displays (HearthStore *store)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) displays = hearth_store_display_list (store, 0, &error);

  g_assert_no_error (error);
  return displays->len;
}

static guint
count_audit (HearthStore *store, const char *kind)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = hearth_store_audit_list (store, 0, &error);
  guint n = 0;

  g_assert_no_error (error);
  for (guint i = 0; i < rows->len; i++) {
    HearthAuditRow *row = g_ptr_array_index (rows, i);

    if (g_str_equal (row->kind, kind))
      n++;
  }
  return n;
}

static HearthAuditRow *
last_audit (HearthStore *store, const char *kind)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = hearth_store_audit_list (store, 0, &error);

  g_assert_no_error (error);
  for (guint i = rows->len; i > 0; i--) {
    HearthAuditRow *row = g_ptr_array_index (rows, i - 1);

    if (g_str_equal (row->kind, kind))
      return g_ptr_array_steal_index (rows, i - 1);
  }
  return NULL;
}

static guint
file_mode (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 0777;
}

/* Open */

static void
test_open_creates_private_wal_file (HearthTestFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthStore) store = NULL;
  const char *dir = fixture->state_dir;
  g_autofree char *path = g_build_filename (dir, "hearth.db", NULL);
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (path, "-shm", NULL);
  g_autofree char *header = NULL;
  gsize len;
  mode_t old_umask;
  guint32 user_version;

  g_assert_no_error (error);

  /* A permissive umask must not leak into the store's files, and is restored. */
  old_umask = umask (000);
  store = hearth_store_open (path, &error);
  g_assert_cmpuint (umask (old_umask), ==, 000);
  g_assert_no_error (error);
  g_assert_cmpint (hearth_store_get_schema_version (store), ==, newest_schema_version ());

  add_household (store, "Home");
  g_assert_cmpuint (file_mode (path), ==, 0600);
  g_assert_true (g_file_test (wal, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (shm, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (file_mode (wal), ==, 0600);
  g_assert_cmpuint (file_mode (shm), ==, 0600);
  g_clear_object (&store);

  /* The file header: SQLite, WAL (read/write versions 2), user_version. */
  g_file_get_contents (path, &header, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (len, >=, 100);
  g_assert_cmpmem (header, 16, "SQLite format 3", 16);
  g_assert_cmpint (header[18], ==, 2);
  g_assert_cmpint (header[19], ==, 2);
  memcpy (&user_version, header + 60, sizeof user_version);
  user_version = GUINT32_FROM_BE (user_version);
  g_assert_cmpuint (user_version, ==, (guint32) newest_schema_version ());

}

static void
test_open_makes_existing_file_private (HearthTestFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthStore) store = NULL;
  const char *dir = fixture->state_dir;
  g_autofree char *path = g_build_filename (dir, "hearth.db", NULL);

  g_assert_no_error (error);
  g_file_set_contents (path, "", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);

  g_test_expect_message ("hearth-store", G_LOG_LEVEL_WARNING, "*readable by others*");
  store = hearth_store_open (path, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpuint (file_mode (path), ==, 0600);
  g_clear_object (&store);
}

static void
test_open_refuses_garbage (HearthTestFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthStore) store = NULL;
  const char *dir = fixture->state_dir;
  g_autofree char *path = g_build_filename (dir, "hearth.db", NULL);
  const char *garbage = "this is not a database, but it is long enough to look like one "
                        "to a reader that does not check the header at all";

  g_assert_no_error (error);
  g_file_set_contents_full (path, garbage, -1, G_FILE_SET_CONTENTS_NONE, 0600, &error);
  g_assert_no_error (error);

  store = hearth_store_open (path, &error);
  g_assert_null (store);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE);
  g_assert_nonnull (strstr (error->message, path));
}

static void
test_open_reopen_keeps_rows (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthHousehold) household = NULL;
  g_autoptr (HearthCameraRow) camera = NULL;
  g_autofree char *camera_id = NULL;
  gint64 id = add_household (f->store, "Home");

  camera_id = hearth_store_camera_add (f->store, id, "Door", "rtsp://192.168.1.20/stream",
                                       &error);
  g_assert_no_error (error);

  g_clear_object (&f->store);
  f->store = hearth_store_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (hearth_store_get_schema_version (f->store), ==, newest_schema_version ());

  household = hearth_store_household_get_by_name (f->store, "Home", &error);
  g_assert_no_error (error);
  g_assert_cmpint (household->id, ==, id);
  g_assert_cmpstr (household->ca_cert_pem, ==, FAKE_CA_CERT);
  g_assert_cmpstr (household->ca_key_pem, ==, FAKE_CA_KEY);

  camera = hearth_store_camera_get (f->store, camera_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (camera->name, ==, "Door");
  g_assert_cmpstr (camera->url, ==, "rtsp://192.168.1.20/stream");
}

/* Names people tell apart: a household's unique in the gateway, a camera's
 * in its household, ignoring the case of ASCII letters; lookups ignore it
 * the same way. */
static void
test_names_unique_ignoring_case (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthHousehold) found = NULL;
  g_autoptr (HearthCameraRow) moved = NULL;
  g_autoptr (GPtrArray) households = NULL;
  g_autofree char *door = NULL;
  g_autofree char *other = NULL;
  g_autofree char *free_name = NULL;
  g_autofree char *long_name = NULL;
  gint64 home = add_household (f->store, "Home");
  gint64 flat = add_household (f->store, "Flat");
  char *none;

  for (guint i = 0; i < 3; i++) {
    const char *names[] = { "Home", "home", "HOME" };

    g_assert_cmpint (hearth_store_household_add (f->store, names[i], FAKE_CA_CERT,
                                                 FAKE_CA_KEY, &error), ==, 0);
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS);
    g_assert_nonnull (strstr (error->message, "a household named “Home” already exists"));
    g_clear_error (&error);
  }
  households = hearth_store_household_list (f->store, &error);
  g_assert_cmpuint (households->len, ==, 2);
  found = hearth_store_household_get_by_name (f->store, "hOmE", &error);
  g_assert_no_error (error);
  g_assert_cmpint (found->id, ==, home);
  /* Only ASCII letters are folded (SQLite's NOCASE). */
  g_assert_cmpint (add_household (f->store, "Élan"), >, 0);
  g_assert_cmpint (add_household (f->store, "élan"), >, 0);

  door = hearth_store_camera_add (f->store, home, "Door", "rtsp://192.168.1.20/a", &error);
  g_assert_no_error (error);
  none = hearth_store_camera_add (f->store, home, "door", "rtsp://192.168.1.20/b", &error);
  g_assert_null (none);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message,
                            "a camera named “Door” already exists in household “Home”"));
  g_clear_error (&error);
  none = hearth_store_camera_adopt (f->store, home, "DOOR", "rtsp://192.168.1.20/c", NULL,
                                    NULL, "rtsp", NULL, NULL, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS);
  g_clear_error (&error);

  /* The same name in another household is another camera's. */
  other = hearth_store_camera_add (f->store, flat, "door", "rtsp://192.168.1.21/a", &error);
  g_assert_no_error (error);

  /* A move into a household that has the name is refused, and changes
   * nothing; under another name it is a move. */
  g_assert_false (hearth_store_camera_move (f->store, other, home, NULL, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message,
                            "a camera named “Door” already exists in household “Home”"));
  g_clear_error (&error);
  moved = hearth_store_camera_get (f->store, other, &error);
  g_assert_cmpint (moved->household_id, ==, flat);
  g_clear_pointer (&moved, hearth_camera_row_free);
  g_assert_true (hearth_store_camera_move (f->store, other, home, "Back door", &error));
  g_assert_no_error (error);
  moved = hearth_store_camera_get (f->store, other, &error);
  g_assert_cmpint (moved->household_id, ==, home);
  g_assert_cmpstr (moved->name, ==, "Back door");
  g_clear_pointer (&moved, hearth_camera_row_free);
  /* Within its own household, --name renames; its own name is no clash. */
  g_assert_true (hearth_store_camera_move (f->store, door, home, "DOOR", &error));
  g_assert_no_error (error);
  moved = hearth_store_camera_get (f->store, door, &error);
  g_assert_cmpstr (moved->name, ==, "DOOR");

  /* A name nobody chose (a discovered camera's) is made free instead. */
  free_name = hearth_store_camera_free_name (f->store, home, "door", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (free_name, ==, "door (2)");
  g_free (hearth_store_camera_add (f->store, home, free_name, "rtsp://192.168.1.20/d",
                                   &error));
  g_assert_no_error (error);
  g_clear_pointer (&free_name, g_free);
  free_name = hearth_store_camera_free_name (f->store, home, "Door", &error);
  g_assert_cmpstr (free_name, ==, "Door (3)");
  g_clear_pointer (&free_name, g_free);
  free_name = hearth_store_camera_free_name (f->store, home, "Yard", &error);
  g_assert_cmpstr (free_name, ==, "Yard");
  g_clear_pointer (&free_name, g_free);
  /* Cut at a character so that the number fits in 64 bytes. */
  long_name = g_strconcat ("ééééééééééééééééééééééééééééééé", "ab", NULL);
  g_assert_cmpuint (strlen (long_name), ==, 64);
  g_free (hearth_store_camera_add (f->store, flat, long_name, "rtsp://192.168.1.21/b",
                                   &error));
  g_assert_no_error (error);
  free_name = hearth_store_camera_free_name (f->store, flat, long_name, &error);
  g_assert_cmpstr (free_name, ==, "éééééééééééééééééééééééééééééé (2)");
  g_assert_cmpuint (strlen (free_name), ==, 64);
}

/* Migrations */

static HearthStore *
open_with (const char *path, const HearthMigration *migrations, guint n, GError **error)
{
  return hearth_store_open_with_migrations (path, migrations, n, error);
}

static void
test_migrations_too_new_refused (HearthTestFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthStore) store = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autofree HearthMigration *migrations = NULL;
  const char *dir = fixture->state_dir;
  g_autofree char *path = g_build_filename (dir, "hearth.db", NULL);
  guint n = (guint) newest_schema_version () + 1;

  g_assert_no_error (error);

  /* A file one version ahead of this build, as a newer hearthd would leave it. */
  migrations = g_new0 (HearthMigration, n);
  for (guint i = 0; i < n; i++) {
    g_ptr_array_add (names, g_strdup_printf ("%04u-future.sql", i + 1));
    migrations[i].name = g_ptr_array_index (names, i);
    migrations[i].sql = "CREATE TABLE IF NOT EXISTS future (x INTEGER)";
  }
  store = open_with (path, migrations, n, &error);
  g_assert_no_error (error);
  g_assert_cmpint (hearth_store_get_schema_version (store), ==, (int) n);
  g_clear_object (&store);

  store = hearth_store_open (path, &error);
  g_assert_null (store);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE);
  g_assert_nonnull (strstr (error->message, "newer"));
  g_clear_error (&error);

  /* Refusing did not touch it. */
  store = open_with (path, migrations, n, &error);
  g_assert_no_error (error);
  g_assert_cmpint (hearth_store_get_schema_version (store), ==, (int) n);
  g_clear_object (&store);
}

static void
assert_migration_refused (const char *path, const HearthMigration *migrations,
                          guint n, const char *expected_name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthStore) store = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize before_len, after_len;

  g_file_get_contents (path, &before, &before_len, &error);
  g_assert_no_error (error);

  store = open_with (path, migrations, n, &error);
  g_assert_null (store);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE);
  g_assert_nonnull (strstr (error->message, expected_name));
  g_clear_error (&error);

  g_file_get_contents (path, &after, &after_len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (after, after_len, before, before_len);
}

static void
test_migrations_broken_leaves_db_untouched (HearthTestFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthStore) store = NULL;
  const char *dir = fixture->state_dir;
  g_autofree char *path = g_build_filename (dir, "hearth.db", NULL);
  const HearthMigration first[] = {
    { "0001-one.sql", "CREATE TABLE one (x INTEGER); INSERT INTO one VALUES (1);" },
  };
  const HearthMigration broken[] = {
    first[0],
    { "0002-broken.sql", "CREATE TABLE two (x INTEGER); INSERT INTO one VALUES (2); "
                         "THIS IS NOT SQL;" },
  };
  const HearthMigration commits[] = {
    first[0],
    { "0002-commits.sql", "CREATE TABLE two (x INTEGER); COMMIT; "
                          "CREATE TABLE three (x INTEGER);" },
  };
  const HearthMigration fixed[] = {
    first[0],
    /* Fails if table "two" or the row 2 had survived the failed attempts. */
    { "0002-fixed.sql", "CREATE TABLE two (x INTEGER); "
                        "CREATE UNIQUE INDEX one_x ON one (x); "
                        "INSERT INTO one SELECT 2 WHERE (SELECT count(*) FROM one) = 1; "
                        "CREATE TABLE check_rows (x INTEGER CHECK (x = 2)); "
                        "INSERT INTO check_rows SELECT count(*) FROM one;" },
  };
  const HearthMigration misnumbered[] = {
    first[0],
    { "0003-skips.sql", "CREATE TABLE skips (x INTEGER);" },
  };

  g_assert_no_error (error);
  store = open_with (path, first, G_N_ELEMENTS (first), &error);
  g_assert_no_error (error);
  g_assert_cmpint (hearth_store_get_schema_version (store), ==, 1);
  g_clear_object (&store);

  assert_migration_refused (path, broken, G_N_ELEMENTS (broken), "0002-broken.sql");
  assert_migration_refused (path, commits, G_N_ELEMENTS (commits), "0002-commits.sql");
  assert_migration_refused (path, misnumbered, G_N_ELEMENTS (misnumbered),
                            "0003-skips.sql");

  store = open_with (path, first, G_N_ELEMENTS (first), &error);
  g_assert_no_error (error);
  g_assert_cmpint (hearth_store_get_schema_version (store), ==, 1);
  g_clear_object (&store);

  store = open_with (path, fixed, G_N_ELEMENTS (fixed), &error);
  g_assert_no_error (error);
  g_assert_cmpint (hearth_store_get_schema_version (store), ==, 2);
  g_clear_object (&store);
}

/* Households */

static void
test_households (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (HearthHousehold) by_id = NULL;
  g_autoptr (HearthHousehold) by_name = NULL;
  HearthHousehold *first;
  gint64 before = g_get_real_time () / G_USEC_PER_SEC;
  gint64 home = add_household (f->store, "Home");
  gint64 flat = add_household (f->store, "Flat 2 🏠");

  g_assert_cmpint (home, !=, flat);
  g_assert_cmpint (hearth_store_household_add (f->store, "Home", FAKE_CA_CERT, FAKE_CA_KEY,
                                               &error), ==, 0);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS);
  g_clear_error (&error);

  list = hearth_store_household_list (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  first = g_ptr_array_index (list, 0);
  g_assert_cmpint (first->id, ==, home);
  g_assert_cmpstr (first->name, ==, "Home");
  g_assert_cmpstr (((HearthHousehold *) g_ptr_array_index (list, 1))->name, ==, "Flat 2 🏠");

  by_id = hearth_store_household_get (f->store, flat, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (by_id->name, ==, "Flat 2 🏠");
  g_assert_cmpstr (by_id->ca_cert_pem, ==, FAKE_CA_CERT);
  g_assert_cmpint (by_id->created, >=, before);
  g_assert_cmpint (by_id->created, <=, g_get_real_time () / G_USEC_PER_SEC);

  by_name = hearth_store_household_get_by_name (f->store, "Home", &error);
  g_assert_no_error (error);
  g_assert_cmpint (by_name->id, ==, home);

  g_assert_null (hearth_store_household_get (f->store, flat + 100, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (hearth_store_household_get_by_name (f->store, "Hom", &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (hearth_store_household_delete (f->store, "Nowhere", &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A household without its CA is not a household. */
  g_assert_cmpint (hearth_store_household_add (f->store, "Bare", NULL, FAKE_CA_KEY,
                                               &error), ==, 0);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_cmpuint (count_audit (f->store, "household-add"), ==, 2);
}

static void
test_households_delete_cascades (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) cameras = NULL;
  g_autoptr (GPtrArray) displays = NULL;
  g_autoptr (HearthDisplayRow) display = NULL;
  g_autoptr (HearthAuditRow) audit = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  g_autofree char *home_camera = NULL;
  g_autofree char *flat_camera = NULL;
  gint64 attic;
  Issuer issuer = { 0, };
  gint64 now = g_get_real_time ();
  gint64 home = add_household (f->store, "Home");
  gint64 flat = add_household (f->store, "Flat");

  home_camera = hearth_store_camera_add (f->store, home, "Door", "rtsp://10.0.0.2/a", &error);
  g_assert_no_error (error);
  flat_camera = hearth_store_camera_add (f->store, flat, "Hall", "rtsp://10.0.0.3/a", &error);
  g_assert_no_error (error);
  open_window (f->store, home, TOKEN, now + TEN_MINUTES);
  display = redeem (f->store, TOKEN, now, "Kitchen", &issuer, &error);
  g_assert_no_error (error);
  open_window (f->store, home, "a second home token, still open", now + TEN_MINUTES);
  open_window (f->store, flat, "the flat's token", now + 2 * TEN_MINUTES);

  g_assert_true (hearth_store_household_delete (f->store, "Home", &error));
  g_assert_no_error (error);

  g_assert_null (hearth_store_household_get (f->store, home, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Home's camera, display and windows are gone; the flat's are not. */
  g_assert_null (hearth_store_camera_get (f->store, home_camera, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);
  cameras = hearth_store_camera_list (f->store, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cameras->len, ==, 1);
  g_assert_cmpstr (((HearthCameraRow *) g_ptr_array_index (cameras, 0))->id, ==, flat_camera);

  displays = hearth_store_display_list (f->store, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (displays->len, ==, 0);
  g_assert_null (hearth_store_display_get_by_fingerprint (f->store, display->fingerprint,
                                                          &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_cmpint (hearth_store_pairing_window_next_expiry (f->store, now), ==,
                   now + 2 * TEN_MINUTES);
  g_assert_null (redeem (f->store, "a second home token, still open", now, "Den",
                         &issuer, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_TOKEN_INVALID);
  g_clear_error (&error);

  /* The audit trail outlives the household. */
  audit = last_audit (f->store, "household-delete");
  g_assert_nonnull (audit);
  g_assert_cmpint (audit->household_id, ==, home);
  g_assert_nonnull (strstr (audit->detail, "Home"));
  g_assert_cmpuint (count_audit (f->store, "pairing"), ==, 1);

  g_assert_false (hearth_store_household_delete (f->store, "Home", &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Ids are never given again: a household added after the one with the
   * largest id was deleted gets a new one, and none of the deleted one's
   * audit rows shows under it. */
  g_assert_true (hearth_store_household_delete (f->store, "Flat", &error));
  g_assert_no_error (error);
  attic = add_household (f->store, "Attic");
  g_assert_cmpint (attic, >, flat);
  rows = hearth_store_audit_list (f->store, 0, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < rows->len; i++) {
    HearthAuditRow *row = g_ptr_array_index (rows, i);

    if (row->household_id == attic)
      g_assert_cmpstr (row->kind, ==, "household-add");
  }
  issuer_clear (&issuer);
}

/* Cameras */

static void
test_cameras (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GPtrArray) home_only = NULL;
  g_autoptr (HearthCameraRow) camera = NULL;
  g_autofree char *door = NULL;
  g_autofree char *yard = NULL;
  g_autofree char *hall = NULL;
  g_autofree char *missing = g_uuid_string_random ();
  gint64 home = add_household (f->store, "Home");
  gint64 flat = add_household (f->store, "Flat");

  door = hearth_store_camera_add (f->store, home, "Door", "rtsp://192.168.1.20/live", &error);
  g_assert_no_error (error);
  yard = hearth_store_camera_add (f->store, home, "Yard", "rtsps://192.168.1.21/live", &error);
  g_assert_no_error (error);
  hall = hearth_store_camera_add (f->store, flat, "Hall", "rtsp://192.168.1.22/live", &error);
  g_assert_no_error (error);
  g_assert_true (g_uuid_string_is_valid (door));
  g_assert_cmpstr (door, !=, yard);

  camera = hearth_store_camera_get (f->store, door, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (camera->id, ==, door);
  g_assert_cmpint (camera->household_id, ==, home);
  g_assert_cmpstr (camera->household, ==, "Home");
  g_assert_cmpstr (camera->name, ==, "Door");
  g_assert_cmpstr (camera->url, ==, "rtsp://192.168.1.20/live");
  g_assert_cmpint (camera->created, >, 0);

  all = hearth_store_camera_list (f->store, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 3);
  home_only = hearth_store_camera_list (f->store, home, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (home_only->len, ==, 2);
  g_assert_cmpstr (((HearthCameraRow *) g_ptr_array_index (home_only, 0))->id, ==, door);
  g_assert_cmpstr (((HearthCameraRow *) g_ptr_array_index (home_only, 1))->id, ==, yard);

  g_assert_true (hearth_store_camera_remove (f->store, door, &error));
  g_assert_no_error (error);
  g_assert_null (hearth_store_camera_get (f->store, door, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (hearth_store_camera_remove (f->store, door, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_null (hearth_store_camera_get (f->store, missing, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (hearth_store_camera_get (f->store, "../../etc/passwd", &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_null (hearth_store_camera_add (f->store, flat + 100, "Ghost", "rtsp://10.0.0.9/",
                                          &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_cmpuint (count_audit (f->store, "camera-add"), ==, 3);
  g_assert_cmpuint (count_audit (f->store, "camera-remove"), ==, 1);
}

/* Adoption, evidence, quarantine, following and credentials (invariant 5). */
static void
test_cameras_evidence (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthCameraRow) camera = NULL;
  g_autofree char *id = NULL;
  g_autofree char *user = NULL;
  g_autofree char *password = NULL;
  gint64 home = add_household (f->store, "Home");
  HearthCameraEvidence evidence = {
    .mdns_type = (char *) "_rtsp._tcp", .mdns_name = (char *) "Front door",
    .txt_id = (char *) "cam-0001", .txt_mac = (char *) "02:00:00:00:00:01",
  };
  HearthCameraEvidence hostile = { .txt_id = (char *) "id with spaces" };
  HearthCameraEvidence again = { .mdns_type = (char *) "_rtsp._tcp",
                                 .mdns_name = (char *) "Front door",
                                 .txt_id = (char *) "cam-0002" };

  id = hearth_store_camera_adopt (f->store, home, "Door", "rtsp://10.0.0.2:554/live", NULL,
                                  NULL, "rtsp", &evidence, "admin", "s3cret", &error);
  g_assert_no_error (error);
  camera = hearth_store_camera_get (f->store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (camera->plugin, ==, "rtsp");
  g_assert_cmpstr (camera->evidence.mdns_name, ==, "Front door");
  g_assert_cmpstr (camera->evidence.txt_id, ==, "cam-0001");
  g_assert_cmpstr (camera->evidence.txt_mac, ==, "02:00:00:00:00:01");
  g_assert_null (camera->evidence.neighbour_mac);
  g_assert_cmpint (camera->quarantined_at, ==, 0);
  g_assert_true (camera->has_credentials);
  /* The row never carries the secrets; only their own getter does. */
  g_assert_null (strstr (camera->url, "s3cret"));
  g_assert_true (hearth_store_camera_get_credentials (f->store, id, &user, &password, &error));
  g_assert_cmpstr (user, ==, "admin");
  g_assert_cmpstr (password, ==, "s3cret");
  g_clear_pointer (&camera, hearth_camera_row_free);

  /* Evidence from the network must be printable ASCII: refused, nothing written. */
  g_assert_null (hearth_store_camera_adopt (f->store, home, "Bad", "rtsp://10.0.0.3/", NULL,
                                            NULL, "rtsp", &hostile, NULL, NULL, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_clear_error (&error);

  /* Trust on first use: only empty fields are filled. */
  g_assert_true (hearth_store_camera_add_evidence (f->store, id, "02:00:00:00:00:aa", NULL,
                                                   &error));
  g_assert_true (hearth_store_camera_add_evidence (f->store, id, "02:00:00:00:00:bb", NULL,
                                                   &error));
  g_assert_no_error (error);
  camera = hearth_store_camera_get (f->store, id, &error);
  g_assert_cmpstr (camera->evidence.neighbour_mac, ==, "02:00:00:00:00:aa");
  g_clear_pointer (&camera, hearth_camera_row_free);

  g_assert_true (hearth_store_camera_follow (f->store, id, "rtsp://10.0.0.7:554/live", NULL,
                                             NULL, &error));
  g_assert_no_error (error);
  g_assert_true (hearth_store_camera_quarantine (f->store, id, "its TXT id changed", &error));
  g_assert_no_error (error);
  camera = hearth_store_camera_get (f->store, id, &error);
  g_assert_cmpstr (camera->url, ==, "rtsp://10.0.0.7:554/live");
  g_assert_cmpint (camera->quarantined_at, >, 0);
  g_assert_cmpstr (camera->quarantine_reason, ==, "its TXT id changed");
  g_clear_pointer (&camera, hearth_camera_row_free);

  /* Adopting again lifts the quarantine and replaces the evidence. */
  g_assert_true (hearth_store_camera_readopt (f->store, id, "rtsp://10.0.0.8:554/live", NULL,
                                              NULL, &again, &error));
  g_assert_no_error (error);
  camera = hearth_store_camera_get (f->store, id, &error);
  g_assert_cmpint (camera->quarantined_at, ==, 0);
  g_assert_null (camera->quarantine_reason);
  g_assert_cmpstr (camera->evidence.txt_id, ==, "cam-0002");
  g_assert_null (camera->evidence.neighbour_mac);
  g_assert_null (camera->evidence.txt_mac);
  g_assert_cmpstr (camera->url, ==, "rtsp://10.0.0.8:554/live");
  g_assert_null (camera->sub_url);
  g_assert_null (camera->service_url);
  g_clear_pointer (&camera, hearth_camera_row_free);

  /* A camera whose plugin resolves its URLs (ONVIF): the sub stream and the
   * device service go with the URL, in adoption and in following alike. */
  g_assert_true (hearth_store_camera_readopt (f->store, id, "rtsp://10.0.0.8:554/main",
                                              "rtsp://10.0.0.8:554/sub",
                                              "http://10.0.0.8/onvif/device_service",
                                              &again, &error));
  g_assert_true (hearth_store_camera_follow (f->store, id, "rtsp://10.0.0.9:554/main",
                                             "rtsp://10.0.0.9:554/sub",
                                             "http://10.0.0.9/onvif/device_service", &error));
  g_assert_no_error (error);
  camera = hearth_store_camera_get (f->store, id, &error);
  g_assert_cmpstr (camera->url, ==, "rtsp://10.0.0.9:554/main");
  g_assert_cmpstr (camera->sub_url, ==, "rtsp://10.0.0.9:554/sub");
  g_assert_cmpstr (camera->service_url, ==, "http://10.0.0.9/onvif/device_service");
  g_clear_pointer (&camera, hearth_camera_row_free);
  /* A URL that is not text is refused, and nothing of the follow written. */
  g_assert_false (hearth_store_camera_follow (f->store, id, "rtsp://10.0.0.10:554/main",
                                              "rtsp://10.0.0.10:554/\033[2J", NULL, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_clear_error (&error);
  camera = hearth_store_camera_get (f->store, id, &error);
  g_assert_cmpstr (camera->url, ==, "rtsp://10.0.0.9:554/main");
  g_assert_cmpstr (camera->sub_url, ==, "rtsp://10.0.0.9:554/sub");

  g_assert_cmpuint (count_audit (f->store, "camera-adopt"), ==, 3);
  g_assert_cmpuint (count_audit (f->store, "camera-evidence"), ==, 2);
  g_assert_cmpuint (count_audit (f->store, "camera-follow"), ==, 2);
  g_assert_cmpuint (count_audit (f->store, "camera-quarantine"), ==, 1);
}

/* Names */

static void
test_names_invalid (Fixture *f, gconstpointer data)
{
  const char *const bad[] = {
    "",
    "0123456789012345678901234567890123456789012345678901234567890123X",  /* 65 */
    "bad \xff byte",
    "two\nlines",
    "tab\there",
    "del\x7f",
    "c1 \xc2\x85 next line",
    "spoof \xe2\x80\xae gpj.exe",
  };
  const char *sixty_four = "0123456789012345678901234567890123456789012345678901234567890123";
  g_autoptr (GError) error = NULL;
  g_autofree char *camera = NULL;
  Issuer issuer = { 0, };
  gint64 now = g_get_real_time ();
  gint64 home = add_household (f->store, "Home");
  gint64 window = open_window (f->store, home, TOKEN, now + TEN_MINUTES);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_test_message ("name %u", i);
    g_assert_cmpint (hearth_store_household_add (f->store, bad[i], FAKE_CA_CERT,
                                                 FAKE_CA_KEY, &error), ==, 0);
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
    g_clear_error (&error);
    g_assert_null (hearth_store_camera_add (f->store, home, bad[i], "rtsp://10.0.0.2/",
                                            &error));
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
    g_clear_error (&error);
    g_assert_null (redeem (f->store, TOKEN, now, bad[i], &issuer, &error));
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
    g_clear_error (&error);
  }
  g_assert_cmpint (hearth_store_household_add (f->store, NULL, FAKE_CA_CERT, FAKE_CA_KEY,
                                               &error), ==, 0);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (hearth_store_camera_add (f->store, home, "Door", "rtsp://x/\r\nevil",
                                          &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_clear_error (&error);

  /* Nothing was written, and the token is still good. */
  g_assert_cmpuint (count_audit (f->store, "household-add"), ==, 1);
  g_assert_cmpuint (count_audit (f->store, "camera-add"), ==, 0);
  g_assert_cmpuint (count_displays (f->store), ==, 0);
  g_assert_cmpint (issuer.calls, ==, 0);
  g_assert_true (hearth_store_pairing_window_any_open (f->store, now));
  g_assert_cmpint (window, >, 0);

  /* The limits are inclusive; UTF-8 beyond ASCII is fine. */
  add_household (f->store, sixty_four);
  camera = hearth_store_camera_add (f->store, home, "Küche 🎥", "rtsp://10.0.0.2/", &error);
  g_assert_no_error (error);
}

/* Pairing */

static void
test_pairing_success (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthDisplayRow) display = NULL;
  g_autoptr (HearthDisplayRow) by_fingerprint = NULL;
  g_autoptr (HearthAuditRow) audit = NULL;
  g_autoptr (GPtrArray) displays = NULL;
  g_autofree char *display_id = NULL;
  Issuer issuer = { 0, };
  guint8 hash[32];
  gint64 now = g_get_real_time ();
  gint64 home = add_household (f->store, "Home");
  gint64 window = open_window (f->store, home, TOKEN, now + TEN_MINUTES);
  gint64 matched = -1;

  g_assert_true (hearth_store_pairing_window_any_open (f->store, now));
  g_assert_cmpint (hearth_store_pairing_window_next_expiry (f->store, now), ==,
                   now + TEN_MINUTES);

  hash_token (TOKEN, hash);
  display = hearth_store_pairing_redeem (f->store, hash, now, "Kitchen", fake_issue,
                                         &issuer, &matched, &error);
  g_assert_no_error (error);
  g_assert_nonnull (display);
  g_assert_cmpint (matched, ==, window);

  /* The certificate came from the issuer, for this row, in this household. */
  g_assert_cmpuint (issuer.calls, ==, 1);
  g_assert_cmpint (issuer.display_id, ==, display->id);
  g_assert_cmpstr (issuer.household, ==, "Home");
  g_assert_cmpint (display->household_id, ==, home);
  g_assert_cmpstr (display->household, ==, "Home");
  g_assert_cmpstr (display->name, ==, "Kitchen");
  g_assert_cmpstr (display->cert_pem, ==, issuer.cert_pem);
  g_assert_cmpstr (display->fingerprint, ==, issuer.fingerprint);
  g_assert_cmpint (display->revoked_at, ==, 0);
  g_assert_cmpint (display->created, ==, now / G_USEC_PER_SEC);

  displays = hearth_store_display_list (f->store, home, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (displays->len, ==, 1);
  by_fingerprint = hearth_store_display_get_by_fingerprint (f->store, issuer.fingerprint,
                                                            &error);
  g_assert_no_error (error);
  g_assert_cmpint (by_fingerprint->id, ==, display->id);

  /* The token is spent: the window is closed and a second use is refused. */
  g_assert_false (hearth_store_pairing_window_any_open (f->store, now));
  g_assert_cmpint (hearth_store_pairing_window_next_expiry (f->store, now), ==, 0);
  g_assert_null (redeem (f->store, TOKEN, now, "Kitchen again", &issuer, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_TOKEN_SPENT);
  g_assert_cmpuint (issuer.calls, ==, 1);
  g_assert_cmpuint (count_displays (f->store), ==, 1);

  /* Audited with the display, never with the token. */
  audit = last_audit (f->store, "pairing");
  g_assert_nonnull (audit);
  g_assert_cmpint (audit->household_id, ==, home);
  g_assert_nonnull (strstr (audit->detail, "Kitchen"));
  display_id = g_strdup_printf ("display %" G_GINT64_FORMAT " ", display->id);
  g_assert_nonnull (strstr (audit->detail, display_id));
  g_assert_null (strstr (audit->detail, TOKEN));
  g_assert_cmpuint (count_audit (f->store, "pairing"), ==, 1);
  g_assert_cmpuint (count_audit (f->store, "pairing-refused"), ==, 1);
  issuer_clear (&issuer);
}

static void
test_pairing_wrong_token (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthAuditRow) audit = NULL;
  Issuer issuer = { 0, };
  guint8 hash[32];
  gint64 now = g_get_real_time ();
  gint64 home = add_household (f->store, "Home");
  gint64 matched = -1;

  open_window (f->store, home, TOKEN, now + TEN_MINUTES);
  hash_token ("fedcba9876543210fedcba9876543210", hash);
  g_assert_null (hearth_store_pairing_redeem (f->store, hash, now, "Kitchen", fake_issue,
                                              &issuer, &matched, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_TOKEN_INVALID);
  g_assert_cmpint (matched, ==, 0);
  g_assert_cmpuint (issuer.calls, ==, 0);
  g_assert_cmpuint (count_displays (f->store), ==, 0);
  g_assert_true (hearth_store_pairing_window_any_open (f->store, now));

  audit = last_audit (f->store, "pairing-refused");
  g_assert_nonnull (audit);
  g_assert_cmpstr (audit->detail, ==, error->message);
  g_assert_cmpint (audit->household_id, ==, 0);
}

static void
test_pairing_expired (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Issuer issuer = { 0, };
  gint64 now = g_get_real_time ();
  gint64 home = add_household (f->store, "Home");

  open_window (f->store, home, TOKEN, now + TEN_MINUTES);
  g_assert_false (hearth_store_pairing_window_any_open (f->store, now + TEN_MINUTES));

  /* Expiry is exclusive: at expires_at the window is already closed. */
  g_assert_null (redeem (f->store, TOKEN, now + TEN_MINUTES, "Kitchen", &issuer, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_TOKEN_EXPIRED);
  g_assert_cmpuint (issuer.calls, ==, 0);
  g_assert_cmpuint (count_displays (f->store), ==, 0);
  g_assert_cmpuint (count_audit (f->store, "pairing-refused"), ==, 1);
}

static void
test_pairing_issue_fails (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthDisplayRow) display = NULL;
  Issuer issuer = { .fail = TRUE };
  gint64 now = g_get_real_time ();
  gint64 home = add_household (f->store, "Home");

  open_window (f->store, home, TOKEN, now + TEN_MINUTES);
  g_assert_null (redeem (f->store, TOKEN, now, "Kitchen", &issuer, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS);
  g_clear_error (&error);
  g_assert_cmpuint (issuer.calls, ==, 1);

  /* Rolled back: no display row, and the token still works. */
  g_assert_cmpuint (count_displays (f->store), ==, 0);
  g_assert_cmpuint (count_audit (f->store, "pairing"), ==, 0);
  g_assert_true (hearth_store_pairing_window_any_open (f->store, now));

  issuer.fail = FALSE;
  display = redeem (f->store, TOKEN, now, "Kitchen", &issuer, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (display->fingerprint, ==, issuer.fingerprint);
  g_assert_cmpuint (count_displays (f->store), ==, 1);
  issuer_clear (&issuer);
}

typedef struct {
  GMutex lock;
  GCond cond;
  guint arrived;  /* protected by lock */
} Gate;

typedef struct {
  Gate *gate;
  HearthStore *store;
  const char *name;
  Issuer issuer;
  HearthDisplayRow *display;
  GError *error;
} Racer;

static gpointer
racer_run (gpointer data)
{
  Racer *racer = data;
  Gate *gate = racer->gate;
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

  /* Both threads leave the gate together. */
  g_mutex_lock (&gate->lock);
  gate->arrived++;
  g_cond_broadcast (&gate->cond);
  while (gate->arrived < 2 && g_cond_wait_until (&gate->cond, &gate->lock, deadline))
    ;
  g_mutex_unlock (&gate->lock);

  racer->display = redeem (racer->store, TOKEN, g_get_real_time (), racer->name,
                           &racer->issuer, &racer->error);
  return NULL;
}

static void
test_pairing_concurrent (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthStore) other = NULL;
  Gate gate = { 0, };
  Racer racers[2] = {
    { .gate = &gate, .store = f->store, .name = "Left" },
    { .gate = &gate, .store = NULL, .name = "Right" },
  };
  GThread *threads[2];
  guint successes = 0;
  gint64 home = add_household (f->store, "Home");

  open_window (f->store, home, TOKEN, g_get_real_time () + TEN_MINUTES);
  other = hearth_store_open (f->path, &error);
  g_assert_no_error (error);
  racers[1].store = other;

  g_mutex_init (&gate.lock);
  g_cond_init (&gate.cond);
  for (guint i = 0; i < 2; i++)
    threads[i] = g_thread_new (racers[i].name, racer_run, &racers[i]);
  for (guint i = 0; i < 2; i++)
    g_thread_join (threads[i]);
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);

  for (guint i = 0; i < 2; i++) {
    if (racers[i].display != NULL) {
      g_assert_no_error (racers[i].error);
      successes++;
    } else {
      g_assert_error (racers[i].error, HEARTH_ERROR, HEARTH_ERROR_TOKEN_SPENT);
    }
  }
  g_assert_cmpuint (successes, ==, 1);
  g_assert_cmpuint (count_displays (f->store), ==, 1);
  g_assert_cmpuint (count_displays (other), ==, 1);
  g_assert_cmpuint (count_audit (f->store, "pairing"), ==, 1);

  for (guint i = 0; i < 2; i++) {
    g_clear_pointer (&racers[i].display, hearth_display_row_free);
    g_clear_error (&racers[i].error);
    issuer_clear (&racers[i].issuer);
  }
}

/* Displays */

static void
test_displays_revoke (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthDisplayRow) display = NULL;
  g_autoptr (HearthDisplayRow) revoked = NULL;
  g_autoptr (HearthDisplayRow) again = NULL;
  g_autoptr (HearthDisplayRow) by_fingerprint = NULL;
  Issuer issuer = { 0, };
  gint64 now = g_get_real_time ();
  gint64 home = add_household (f->store, "Home");
  gint64 before;

  open_window (f->store, home, TOKEN, now + TEN_MINUTES);
  display = redeem (f->store, TOKEN, now, "Kitchen", &issuer, &error);
  g_assert_no_error (error);

  before = g_get_real_time () / G_USEC_PER_SEC;
  g_assert_true (hearth_store_display_revoke (f->store, display->id, &error));
  g_assert_no_error (error);
  revoked = hearth_store_display_get (f->store, display->id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (revoked->revoked_at, >=, before);
  g_assert_cmpint (revoked->revoked_at, <=, g_get_real_time () / G_USEC_PER_SEC);

  /* Revoked rows are still found by fingerprint; the caller checks revoked_at. */
  by_fingerprint = hearth_store_display_get_by_fingerprint (f->store, display->fingerprint,
                                                            &error);
  g_assert_no_error (error);
  g_assert_cmpint (by_fingerprint->revoked_at, ==, revoked->revoked_at);

  /* A second revoke succeeds and keeps the first time. */
  g_assert_true (hearth_store_display_revoke (f->store, display->id, &error));
  g_assert_no_error (error);
  again = hearth_store_display_get (f->store, display->id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->revoked_at, ==, revoked->revoked_at);
  g_assert_cmpuint (count_audit (f->store, "revoke"), ==, 1);

  g_assert_false (hearth_store_display_revoke (f->store, display->id + 100, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (hearth_store_display_get (f->store, display->id + 100, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (hearth_store_display_get_by_fingerprint (f->store, "not-a-fingerprint",
                                                          &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  issuer_clear (&issuer);
}

/* Audit */

static void
test_audit_since (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GPtrArray) later = NULL;
  g_autoptr (GPtrArray) future = NULL;
  HearthAuditRow *first, *second;
  gint64 start = g_get_real_time ();
  gint64 deadline;

  g_assert_true (hearth_store_audit_add (f->store, "access-denied", 0,
                                         "unknown client certificate", &error));
  g_assert_no_error (error);
  all = hearth_store_audit_list (f->store, start, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 1);
  first = g_ptr_array_index (all, 0);
  g_assert_cmpstr (first->kind, ==, "access-denied");
  g_assert_cmpint (first->household_id, ==, 0);
  g_assert_cmpstr (first->detail, ==, "unknown client certificate");
  g_assert_cmpint (first->at, >=, start);

  /* Let the clock move past the first row, so "since" can separate them. */
  deadline = g_get_monotonic_time () + G_TIME_SPAN_SECOND;
  while (g_get_real_time () <= first->at && g_get_monotonic_time () < deadline)
    ;
  g_assert_cmpint (g_get_real_time (), >, first->at);

  g_assert_true (hearth_store_audit_add (f->store, "egress-mismatch", 7, NULL, &error));
  g_assert_no_error (error);
  g_clear_pointer (&all, g_ptr_array_unref);
  all = hearth_store_audit_list (f->store, start, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 2);
  first = g_ptr_array_index (all, 0);
  second = g_ptr_array_index (all, 1);
  g_assert_cmpstr (first->kind, ==, "access-denied");
  g_assert_cmpstr (second->kind, ==, "egress-mismatch");
  g_assert_cmpint (second->household_id, ==, 7);
  g_assert_cmpstr (second->detail, ==, "");
  g_assert_cmpint (second->at, >, first->at);

  later = hearth_store_audit_list (f->store, first->at + 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (later->len, ==, 1);
  g_assert_cmpstr (((HearthAuditRow *) g_ptr_array_index (later, 0))->kind, ==,
                   "egress-mismatch");
  future = hearth_store_audit_list (f->store, g_get_real_time () + TEN_MINUTES, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (future->len, ==, 0);

  g_assert_false (hearth_store_audit_add (f->store, "", 0, "x", &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The migrations compiled in from schema/, in order. */
static HearthMigration *
compiled_migrations (GPtrArray *keep, guint *n)
{
  g_auto (GStrv) names = g_resource_enumerate_children (hearth_schema_get_resource (),
                                                        "/org/hearth/schema/", 0, NULL);
  HearthMigration *migrations;

  g_assert_nonnull (names);
  *n = g_strv_length (names);
  qsort (names, *n, sizeof (char *), compare_names);
  migrations = g_new0 (HearthMigration, *n + 2);
  for (guint i = 0; i < *n; i++) {
    g_autofree char *path = g_strconcat ("/org/hearth/schema/", names[i], NULL);
    g_autoptr (GBytes) bytes = g_resource_lookup_data (hearth_schema_get_resource (),
                                                       path, 0, NULL);
    char *sql;

    g_assert_nonnull (bytes);
    sql = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    g_ptr_array_add (keep, sql);
    g_ptr_array_add (keep, g_strdup (names[i]));
    migrations[i].sql = sql;
    migrations[i].name = g_ptr_array_index (keep, keep->len - 1);
  }
  return migrations;
}

/* A copy of the database the oldest schema made (tests/fixtures). */
static char *
copy_fixture (const char *dir)
{
  const char *fixture = g_getenv ("HEARTH_STORE_FIXTURE_0001");
  g_autoptr (GFile) source = NULL;
  g_autoptr (GFile) target = NULL;
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (dir, "hearth.db", NULL);

  g_assert_nonnull (fixture);
  source = g_file_new_for_path (fixture);
  target = g_file_new_for_path (path);
  g_file_copy (source, target, G_FILE_COPY_NONE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  /* As the store made it. */
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  return path;
}

/* Every row of the fixture, as the store shows it. */
static void
assert_fixture_rows (HearthStore *store)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) households = hearth_store_household_list (store, &error);
  g_autoptr (GPtrArray) cameras = NULL;
  g_autoptr (GPtrArray) displays = NULL;
  g_autoptr (GPtrArray) audit = NULL;
  g_autoptr (HearthDisplayRow) kitchen = NULL;
  g_autoptr (HearthHousehold) home = NULL;
  HearthCameraRow *door;

  g_assert_no_error (error);
  g_assert_cmpuint (households->len, ==, 2);
  home = hearth_store_household_get_by_name (store, "Home", &error);
  g_assert_no_error (error);
  g_assert_cmpint (home->id, ==, 1);
  g_assert_nonnull (strstr (home->ca_key_pem, "SG9tZSBrZXk="));
  g_assert_cmpint (home->created, ==, 1764000000);

  cameras = hearth_store_camera_list (store, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cameras->len, ==, 1);
  door = g_ptr_array_index (cameras, 0);
  g_assert_cmpstr (door->id, ==, "0b6a3c52-5f0e-4d7e-9d43-2f4f6b3a9e01");
  g_assert_cmpstr (door->name, ==, "Door");
  g_assert_cmpstr (door->url, ==, "rtsp://admin:secret@192.168.1.20:554/stream");
  g_clear_pointer (&cameras, g_ptr_array_unref);
  cameras = hearth_store_camera_list (store, 0, &error);
  g_assert_cmpuint (cameras->len, ==, 2);

  displays = hearth_store_display_list (store, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (displays->len, ==, 2);
  kitchen = hearth_store_display_get_by_fingerprint (
      store, "2222222222222222222222222222222222222222222222222222222222222222", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kitchen->name, ==, "Kitchen");
  g_assert_cmpstr (kitchen->household, ==, "Flat 2");
  g_assert_cmpint (kitchen->revoked_at, ==, 1764000600);
  g_assert_nonnull (strstr (kitchen->cert_pem, "S2l0Y2hlbg=="));

  g_assert_false (hearth_store_pairing_window_any_open (store, 1764000000000000));

  audit = hearth_store_audit_list (store, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (audit->len, ==, 2);
  g_assert_cmpstr (((HearthAuditRow *) g_ptr_array_index (audit, 1))->kind, ==, "revoke");
}

static void
test_migrations_from_oldest_fixture (HearthTestFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthStore) store = NULL;
  const char *dir = fixture->state_dir;
  g_autofree char *path = copy_fixture (dir);

  store = hearth_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (hearth_store_get_schema_version (store), ==, newest_schema_version ());
  assert_fixture_rows (store);
  g_clear_object (&store);

  /* Opening again changes nothing. */
  store = hearth_store_open (path, &error);
  g_assert_no_error (error);
  assert_fixture_rows (store);
  g_clear_object (&store);
}

/*
 * An upgrade of several steps is one transaction: when its last step fails,
 * the file is byte for byte what the old release left, and the old release
 * still opens it. When all steps work, the rows are all there.
 */
static void
test_migrations_upgrade_is_atomic (HearthTestFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthStore) store = NULL;
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  const char *dir = fixture->state_dir;
  g_autofree char *path = copy_fixture (dir);
  g_autofree HearthMigration *migrations = NULL;
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  guint n;

  migrations = compiled_migrations (keep, &n);
  second = g_strdup_printf ("%04u-camera-notes.sql", n + 1);
  third = g_strdup_printf ("%04u-broken.sql", n + 2);
  migrations[n].name = second;
  migrations[n].sql = "ALTER TABLE cameras ADD COLUMN note TEXT; "
                      "UPDATE cameras SET note = 'moved';";
  migrations[n + 1].name = third;
  migrations[n + 1].sql = "DELETE FROM displays; THIS IS NOT SQL;";

  /* Bring the fixture to the newest compiled schema first. */
  store = open_with (path, migrations, n, &error);
  g_assert_no_error (error);
  g_clear_object (&store);

  assert_migration_refused (path, migrations, n + 2, third);
  store = open_with (path, migrations, n, &error);
  g_assert_no_error (error);
  g_assert_cmpint (hearth_store_get_schema_version (store), ==, (int) n);
  assert_fixture_rows (store);
  g_clear_object (&store);

  store = open_with (path, migrations, n + 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (hearth_store_get_schema_version (store), ==, (int) n + 1);
  assert_fixture_rows (store);
  g_clear_object (&store);
}

static char *
copy_file (const char *from, const char *dir)
{
  g_autoptr (GFile) source = g_file_new_for_path (from);
  g_autoptr (GFile) target = NULL;
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (dir, "hearth.db", NULL);

  target = g_file_new_for_path (path);
  g_file_copy (source, target, G_FILE_COPY_NONE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  return path;
}

static const char *
camera_name (HearthStore *store, const char *id)
{
  static char name[128];
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthCameraRow) camera = hearth_store_camera_get (store, id, &error);

  g_assert_no_error (error);
  g_strlcpy (name, camera->name, sizeof name);
  return name;
}

/*
 * A database of the oldest release where names repeat (ignoring case) is
 * upgraded without losing a row: the later ones are renamed "NAME (N)" to a
 * name free in their scope, each with an audit row.
 */
static void
test_migrations_rename_duplicate_names (HearthTestFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthStore) store = NULL;
  g_autoptr (GPtrArray) households = NULL;
  g_autoptr (GPtrArray) cameras = NULL;
  g_autoptr (GPtrArray) audit = NULL;
  const char *dir = fixture->state_dir;
  g_autofree char *path = NULL;
  const char *expected_households[] = { "Home", "Flat 2", "home (3)", "HOME (4)",
                                        "Home (2)" };
  guint renames = 0;

  g_assert_nonnull (g_getenv ("HEARTH_STORE_FIXTURE_NAMES"));
  path = copy_file (g_getenv ("HEARTH_STORE_FIXTURE_NAMES"), dir);
  store = hearth_store_open (path, &error);
  g_assert_no_error (error);

  households = hearth_store_household_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (households->len, ==, G_N_ELEMENTS (expected_households));
  for (guint i = 0; i < households->len; i++) {
    HearthHousehold *h = households->pdata[i];

    g_assert_cmpint (h->id, ==, i + 1);
    g_assert_cmpstr (h->name, ==, expected_households[i]);
  }
  cameras = hearth_store_camera_list (store, 0, &error);
  g_assert_cmpuint (cameras->len, ==, 7);
  g_assert_cmpstr (camera_name (store, "0b6a3c52-5f0e-4d7e-9d43-2f4f6b3a9e01"), ==, "Door");
  g_assert_cmpstr (camera_name (store, "10000000-0000-4000-8000-000000000001"), ==, "door (2)");
  g_assert_cmpstr (camera_name (store, "10000000-0000-4000-8000-000000000002"), ==, "Door (3)");
  g_assert_cmpstr (camera_name (store, "10000000-0000-4000-8000-000000000003"), ==, "Door");
  g_assert_cmpstr (camera_name (store, "10000000-0000-4000-8000-000000000004"), ==,
                   "ééééééééééééééééééééééééééééééé-X");
  g_assert_cmpstr (camera_name (store, "10000000-0000-4000-8000-000000000005"), ==,
                   "éééééééééééééééééééééééééééééé (2)");

  audit = hearth_store_audit_list (store, 0, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < audit->len; i++) {
    HearthAuditRow *row = audit->pdata[i];

    if (g_str_equal (row->kind, "rename")) {
      renames++;
      g_assert_nonnull (strstr (row->detail, "renamed"));
    }
  }
  g_assert_cmpuint (renames, ==, 5);

  /* The upgraded store keeps the names apart from now on. */
  g_assert_null (hearth_store_camera_add (store, 1, "DOOR", "rtsp://127.0.0.1:1/f", &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS);
  g_clear_object (&store);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define FIXTURE_TEST(path, func) \
  g_test_add ((path), Fixture, NULL, fixture_set_up, (func), fixture_tear_down)

  hearth_test_add ("/hearth/store/open/creates-private-wal-file", NULL,
                   test_open_creates_private_wal_file);
  hearth_test_add ("/hearth/store/open/makes-existing-file-private", NULL,
                   test_open_makes_existing_file_private);
  hearth_test_add ("/hearth/store/open/refuses-garbage", NULL, test_open_refuses_garbage);
  FIXTURE_TEST ("/hearth/store/open/reopen-keeps-rows", test_open_reopen_keeps_rows);
  hearth_test_add ("/hearth/store/migrations/too-new-refused", NULL,
                   test_migrations_too_new_refused);
  hearth_test_add ("/hearth/store/migrations/broken-leaves-db-untouched", NULL,
                   test_migrations_broken_leaves_db_untouched);
  hearth_test_add ("/hearth/store/migrations/from-oldest-fixture", NULL,
                   test_migrations_from_oldest_fixture);
  hearth_test_add ("/hearth/store/migrations/rename-duplicate-names", NULL,
                   test_migrations_rename_duplicate_names);
  hearth_test_add ("/hearth/store/migrations/upgrade-is-atomic", NULL,
                   test_migrations_upgrade_is_atomic);
  FIXTURE_TEST ("/hearth/store/households", test_households);
  FIXTURE_TEST ("/hearth/store/households/delete-cascades", test_households_delete_cascades);
  FIXTURE_TEST ("/hearth/store/cameras", test_cameras);
  FIXTURE_TEST ("/hearth/store/cameras/evidence", test_cameras_evidence);
  FIXTURE_TEST ("/hearth/store/names/invalid", test_names_invalid);
  FIXTURE_TEST ("/hearth/store/names/unique-ignoring-case", test_names_unique_ignoring_case);
  FIXTURE_TEST ("/hearth/store/pairing/success", test_pairing_success);
  FIXTURE_TEST ("/hearth/store/pairing/wrong-token", test_pairing_wrong_token);
  FIXTURE_TEST ("/hearth/store/pairing/expired", test_pairing_expired);
  FIXTURE_TEST ("/hearth/store/pairing/issue-fails-rolls-back", test_pairing_issue_fails);
  FIXTURE_TEST ("/hearth/store/pairing/concurrent-one-winner", test_pairing_concurrent);
  FIXTURE_TEST ("/hearth/store/displays/revoke", test_displays_revoke);
  FIXTURE_TEST ("/hearth/store/audit/since", test_audit_since);

#undef FIXTURE_TEST

  return g_test_run ();
}
