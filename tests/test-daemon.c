/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for hearthd's start-up with its state directory (gateway/daemon.c):
 * the directory is created private (0700) with its parents, or made private
 * when it was not; files a killed run left there (a backup's temporary copy
 * and its journal, a key or certificate half written) are removed, and only
 * those, and only by the daemon that holds the admin socket, not by a second
 * one started on the same directory; a restore killed before it was
 * complete is removed. Each test starts a real HearthDaemon in the fixture's
 * state directory on loopback ports the kernel picks, with mDNS off.
 */
#define G_LOG_DOMAIN "hearth-test-daemon"

#include <sys/stat.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>

#include "admin.h"
#include "config.h"
#include "daemon.h"
#include "fixture.h"
#include "store.h"

/* A daemon of @state, as hearthd --state-dir @state makes it. (transfer full) */
static HearthDaemon *
daemon_new (const char *state)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = g_strdup_printf (
      "[gateway]\n"
      "state-dir = %s\n"
      "listen = 127.0.0.1:0\n"
      "pairing-listen = 127.0.0.1:0\n"
      "[discovery]\n"
      "enabled = false\n"
      "[cameras]\n"
      "plugin-dir = %s\n",
      state, g_getenv ("HEARTH_PLUGIN_DIR"));
  HearthConfig *config = hearth_config_load_data (text, strlen (text), "test.conf", &error);

  g_assert_no_error (error);
  return hearth_daemon_new (config);
}

static HearthDaemon *
daemon_start (const char *state)
{
  g_autoptr (GError) error = NULL;
  HearthDaemon *daemon = daemon_new (state);

  g_assert_true (hearth_daemon_start (daemon, FALSE, &error));
  g_assert_no_error (error);
  return daemon;
}

static void
daemon_stop (HearthDaemon *daemon)
{
  hearth_daemon_stop (daemon);
  g_object_unref (daemon);
}

static guint
mode_of (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_lstat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static void
touch (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_set_contents (path, "left over", -1, &error));
  g_assert_no_error (error);
}

static gboolean
exists_in (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* A state directory that does not exist yet, nor its parent: made, 0700,
 * with the database and the gateway's keys in it (keys 0600). */
static void
test_created_private (HearthTestFixture *f, gconstpointer data)
{
  g_autofree char *state = g_build_filename (f->state_dir, "var", "hearth", NULL);
  g_autofree char *db = g_build_filename (state, HEARTH_STATE_DB_FILE, NULL);
  g_autofree char *key = g_build_filename (state, HEARTH_STATE_KEY_FILE, NULL);
  HearthDaemon *daemon = daemon_start (state);

  g_assert_cmpuint (mode_of (state), ==, 0700);
  g_assert_true (g_file_test (db, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (mode_of (key), ==, 0600);
  daemon_stop (daemon);

  /* Started again on what it made: the same directory, still private. */
  daemon = daemon_start (state);
  g_assert_cmpuint (mode_of (state), ==, 0700);
  daemon_stop (daemon);
}

/* A state directory someone made readable by others is made private. */
static void
test_made_private (HearthTestFixture *f, gconstpointer data)
{
  g_autofree char *state = g_build_filename (f->state_dir, "state", NULL);
  HearthDaemon *daemon;

  g_assert_cmpint (g_mkdir (state, 0755), ==, 0);
  g_assert_cmpint (g_chmod (state, 0755), ==, 0);
  daemon = daemon_start (state);
  g_assert_cmpuint (mode_of (state), ==, 0700);
  daemon_stop (daemon);
}

/* What a run killed while writing left is removed; files that only look
 * alike are not. */
static void
test_leftovers_removed (HearthTestFixture *f, gconstpointer data)
{
  g_autofree char *state = g_build_filename (f->state_dir, "state", NULL);
  const char *const leftovers[] = {
    HEARTH_ADMIN_BACKUP_TMP_PREFIX "a1B2c3.tmp",
    HEARTH_ADMIN_BACKUP_TMP_PREFIX "a1B2c3.tmp-journal",
    "gateway.key.tmp-Xy12Zw",
    "gateway.crt.tmp-Xy12Zw",
    "ca.key.tmp-Qq9Rr8",
    "gateway.key.new.tmp-Aa1Bb2",
  };
  const char *const kept[] = {
    "notes.txt",
    HEARTH_ADMIN_BACKUP_TMP_PREFIX "short.tmp",     /* not six characters */
    "gateway.key.tmp-toolong",                      /* not six either */
    "gateway.key.bak",
    "backup.hearth",
  };
  HearthDaemon *daemon;

  g_assert_cmpint (g_mkdir (state, 0700), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (leftovers); i++)
    touch (state, leftovers[i]);
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    touch (state, kept[i]);

  daemon = daemon_start (state);
  for (guint i = 0; i < G_N_ELEMENTS (leftovers); i++)
    if (exists_in (state, leftovers[i]))
      g_error ("%s, left by a killed run, is still there", leftovers[i]);
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    if (!exists_in (state, kept[i]))
      g_error ("%s was removed", kept[i]);
  daemon_stop (daemon);
}

/* A second daemon on a directory another one serves does not start (the
 * admin socket is taken), and removes nothing: what looks left over may be
 * the first one's backup in progress. */
static void
test_second_daemon_removes_nothing (HearthTestFixture *f, gconstpointer data)
{
  g_autofree char *state = g_build_filename (f->state_dir, "state", NULL);
  const char *in_progress = HEARTH_ADMIN_BACKUP_TMP_PREFIX "Zz9Yy8.tmp";
  HearthDaemon *first = daemon_start (state);
  HearthDaemon *second = daemon_new (state);
  g_autoptr (GError) error = NULL;

  touch (state, in_progress);
  g_assert_false (hearth_daemon_start (second, FALSE, &error));
  g_assert_nonnull (error);
  g_test_message ("the second daemon: %s", error->message);
  g_assert_true (exists_in (state, in_progress));
  daemon_stop (second);
  daemon_stop (first);
}

/* A restore killed before all of it was staged is removed at start; the
 * state directory is the one it was before. */
static void
test_incomplete_restore_removed (HearthTestFixture *f, gconstpointer data)
{
  g_autofree char *state = g_build_filename (f->state_dir, "state", NULL);
  g_autofree char *staging = g_build_filename (state, ".hearth-restore", NULL);
  HearthDaemon *daemon;

  g_assert_cmpint (g_mkdir_with_parents (staging, 0700), ==, 0);
  touch (staging, HEARTH_STATE_DB_FILE);
  touch (staging, HEARTH_STATE_KEY_FILE);

  daemon = daemon_start (state);
  g_assert_false (g_file_test (staging, G_FILE_TEST_EXISTS));
  daemon_stop (daemon);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  hearth_test_add ("/hearth/daemon/state-dir/created-private", NULL, test_created_private);
  hearth_test_add ("/hearth/daemon/state-dir/made-private", NULL, test_made_private);
  hearth_test_add ("/hearth/daemon/state-dir/leftovers-removed", NULL,
                   test_leftovers_removed);
  hearth_test_add ("/hearth/daemon/state-dir/second-daemon-removes-nothing", NULL,
                   test_second_daemon_removes_nothing);
  hearth_test_add ("/hearth/daemon/state-dir/incomplete-restore-removed", NULL,
                   test_incomplete_restore_removed);
  return g_test_run ();
}
