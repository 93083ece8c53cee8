/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for tests/fixture.c, the unit tests' shared fixture: each test runs
 * on its own thread-default context; hearth_test_wait_for returns as soon
 * as its condition holds and FALSE at its deadline; the watchdog fails a
 * test that runs too long (seen from a subprocess, as a failed test); the
 * state directory and everything in it is gone after teardown, and a
 * symbolic link in it is removed, not followed; a connection to the closed
 * port is refused.
 */
#define G_LOG_DOMAIN "hearth-test-fixture"

#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "fixture.h"

static gboolean
flag_is_set (gpointer data)
{
  return *(gboolean *) data;
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_own_context (HearthTestFixture *f, gconstpointer data)
{
  g_assert_nonnull (f->context);
  g_assert_true (g_main_context_get_thread_default () == f->context);
  g_assert_false (f->context == g_main_context_default ());
  g_assert_true (g_file_test (f->state_dir, G_FILE_TEST_IS_DIR));
}

static void
test_wait_for (HearthTestFixture *f, gconstpointer data)
{
  gboolean flag = FALSE;
  GSource *later = g_timeout_source_new (50);
  gint64 start;

  /* Comes on the fixture's context: seen well before the deadline. */
  g_source_set_callback (later, set_flag, &flag, NULL);
  g_source_attach (later, f->context);
  g_source_unref (later);
  start = g_get_monotonic_time ();
  g_assert_true (hearth_test_wait_for (f, flag_is_set, &flag, 10));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);

  /* Never comes: FALSE at the deadline, not before. */
  flag = FALSE;
  start = g_get_monotonic_time ();
  g_assert_false (hearth_test_wait_for (f, flag_is_set, &flag, 1));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, G_USEC_PER_SEC);
  g_assert_false (f->timed_out);
}

static void
test_watchdog (void)
{
  if (g_test_subprocess ()) {
    HearthTestFixture f;
    gboolean never = FALSE;

    hearth_test_fixture_setup (&f, NULL);
    hearth_test_fixture_set_watchdog (&f, 1);
    /* The wait's own deadline is later: the watchdog ends it. */
    g_assert_false (hearth_test_wait_for (&f, flag_is_set, &never, 30));
    g_assert_true (f.timed_out);
    hearth_test_fixture_teardown (&f, NULL);
    return;
  }
  g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*watchdog: the test still ran after 1 s*");
}

static void
test_state_dir_removed (void)
{
  HearthTestFixture f;
  g_autofree char *outside = NULL;
  g_autofree char *kept = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *sub = NULL;
  g_autofree char *file = NULL;
  g_autofree char *link = NULL;

  outside = hearth_test_make_dir ("hearth-test-outside");
  kept = g_build_filename (outside, "kept", NULL);
  g_assert_true (g_file_set_contents (kept, "x", -1, NULL));

  hearth_test_fixture_setup (&f, NULL);
  dir = g_strdup (f.state_dir);
  sub = g_build_filename (dir, "a", "b", NULL);
  g_assert_cmpint (g_mkdir_with_parents (sub, 0700), ==, 0);
  file = g_build_filename (sub, "state.db", NULL);
  g_assert_true (g_file_set_contents (file, "data", -1, NULL));
  link = g_build_filename (dir, "a", "outside", NULL);
  g_assert_cmpint (symlink (outside, link), ==, 0);
  hearth_test_fixture_teardown (&f, NULL);

  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (kept, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (g_remove (kept), ==, 0);
  g_assert_cmpint (g_rmdir (outside), ==, 0);
}

static void
test_closed_port (void)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port = hearth_test_closed_port ();

  g_assert_cmpuint (port, >, 0);
  connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_null (connection);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  hearth_test_add ("/hearth/fixture/own-context", NULL, test_own_context);
  hearth_test_add ("/hearth/fixture/wait-for", NULL, test_wait_for);
  g_test_add_func ("/hearth/fixture/watchdog", test_watchdog);
  g_test_add_func ("/hearth/fixture/state-dir-removed", test_state_dir_removed);
  g_test_add_func ("/hearth/fixture/closed-port", test_closed_port);
  return g_test_run ();
}
