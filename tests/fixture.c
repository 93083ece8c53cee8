/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The unit tests' shared fixture (fixture.h): a main context of the test's
 * own, a watchdog on it that fails the test instead of letting it hang, a
 * temporary state directory, the one way a test waits for a condition, and
 * a loopback port nothing listens on.
 *
 * Threads: the test's thread only; setup pushes the context as that
 * thread's default and teardown pops it. Ownership: the fixture owns its
 * context, watchdog source and directory name; teardown releases them all.
 */
#define G_LOG_DOMAIN "hearth-fixture"

#include <errno.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "fixture.h"

static gboolean
on_watchdog (gpointer user_data)
{
  HearthTestFixture *self = user_data;

  self->timed_out = TRUE;
  /* On stderr as well: a subprocess test shows no g_test_fail_printf(). */
  g_printerr ("watchdog: the test still ran after %u s\n", self->watchdog_s);
  g_test_fail_printf ("watchdog: the test still ran after %u s",
                      self->watchdog_s);
  return G_SOURCE_REMOVE;
}

void
hearth_test_fixture_set_watchdog (HearthTestFixture *self, guint seconds)
{
  if (self->watchdog != NULL) {
    g_source_destroy (self->watchdog);
    g_source_unref (self->watchdog);
  }
  self->watchdog_s = seconds;
  self->watchdog = g_timeout_source_new_seconds (seconds);
  g_source_set_callback (self->watchdog, on_watchdog, self, NULL);
  g_source_attach (self->watchdog, self->context);
}

char *
hearth_test_make_dir (const char *prefix)
{
  g_autofree char *uuid = g_uuid_string_random ();
  char *path = g_strdup_printf ("%s/%s-%s", g_get_tmp_dir (), prefix, uuid);

  if (g_mkdir (path, 0700) != 0)
    g_error ("cannot make %s: %s", path, g_strerror (errno));
  return path;
}

void
hearth_test_fixture_setup (HearthTestFixture *self, gconstpointer data)
{
  self->context = g_main_context_new ();
  g_main_context_push_thread_default (self->context);

  self->timed_out = FALSE;
  self->watchdog = NULL;
  hearth_test_fixture_set_watchdog (self, HEARTH_TEST_WATCHDOG_S);

  self->state_dir = hearth_test_make_dir ("hearth-test");
}

/* Removes @path and, for a directory, all below it; never follows a
 * symbolic link out of it. */
static void
remove_tree (const char *path)
{
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode)) {
    g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);

      remove_tree (child);
    }
  }
  if (g_remove (path) != 0)
    g_test_message ("could not remove %s: %s, ignoring", path,
                    g_strerror (errno));
}

void
hearth_test_fixture_teardown (HearthTestFixture *self, gconstpointer data)
{
  g_source_destroy (self->watchdog);
  g_clear_pointer (&self->watchdog, g_source_unref);

  /* What the test's objects left to run on their way out (idle
   * finalizers, cancelled operations' callbacks) runs on their context. */
  while (g_main_context_iteration (self->context, FALSE))
    ;
  g_main_context_pop_thread_default (self->context);
  g_clear_pointer (&self->context, g_main_context_unref);

  remove_tree (self->state_dir);
  g_clear_pointer (&self->state_dir, g_free);
}

static gboolean
on_deadline (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
hearth_test_wait_for (HearthTestFixture *self, HearthTestCondition condition,
                      gpointer data, guint seconds)
{
  gboolean expired = FALSE;
  GSource *deadline = g_timeout_source_new (seconds * 1000);
  gboolean met;

  g_source_set_callback (deadline, on_deadline, &expired, NULL);
  g_source_attach (deadline, self->context);
  while (!(met = condition (data)) && !expired && !self->timed_out)
    g_main_context_iteration (self->context, TRUE);
  g_source_destroy (deadline);
  g_source_unref (deadline);
  if (!met)
    g_test_message ("waited %u s for a condition that did not come%s",
                    seconds, self->timed_out ? " (watchdog)" : "");
  return met;
}

guint16
hearth_test_closed_port (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  g_socket_close (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}
