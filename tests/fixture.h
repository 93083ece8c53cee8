/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * HearthTestFixture: what every unit test that runs a main context shares
 * (after WirePlumber's tests/common/base-test-fixture.h). See fixture.c.
 *
 * Each test gets
 *   - its own GMainContext, pushed as the thread-default context for the
 *     test's duration (objects that take the thread-default context, as
 *     HearthCamera and HearthControl do, run on it; what g_timeout_add or
 *     g_idle_add put on the global default context does not run);
 *   - a watchdog on that context that fails the test (g_test_fail with a
 *     message) once HEARTH_TEST_WATCHDOG_S have passed, so that a test that
 *     waits for something that never comes fails instead of hanging (it
 *     fires while the test iterates the context, as hearth_test_wait_for
 *     does: a test blocked elsewhere is left to meson's timeout);
 *   - a temporary state directory, removed with all it holds at teardown.
 *
 * The fields are read by the tests; only fixture.c writes them.
 */

#define HEARTH_TEST_WATCHDOG_S 60

typedef struct {
  GMainContext *context;  /* the test's own, pushed as thread default */
  GSource *watchdog;
  guint watchdog_s;
  gboolean timed_out;     /* the watchdog fired */
  char *state_dir;        /* a fresh temporary directory */
} HearthTestFixture;

void hearth_test_fixture_setup (HearthTestFixture *self, gconstpointer data);
void hearth_test_fixture_teardown (HearthTestFixture *self, gconstpointer data);

/* Re-arms the watchdog to fire @seconds from now (a test that is meant to
 * take long, or the fixture's own test). */
void hearth_test_fixture_set_watchdog (HearthTestFixture *self, guint seconds);

/* Adds a test at @path that runs @func (HearthTestFixture *, gconstpointer)
 * with @data between the fixture's setup and teardown. */
#define hearth_test_add(path, data, func) \
  g_test_add ((path), HearthTestFixture, (data), hearth_test_fixture_setup, \
              (func), hearth_test_fixture_teardown)

/* A new private (0700) directory in the temporary directory, named
 * @prefix-UUID; the caller removes it. (transfer full) */
char *hearth_test_make_dir (const char *prefix);

typedef gboolean (*HearthTestCondition) (gpointer data);

/* Iterates the fixture's context until @condition (@data) holds: TRUE then;
 * FALSE once @seconds have passed or the watchdog fired, for the caller to
 * assert. */
gboolean hearth_test_wait_for (HearthTestFixture *self,
                               HearthTestCondition condition, gpointer data,
                               guint seconds);

/* A TCP port on 127.0.0.1 that nothing listens on now (bound, then closed
 * again): a connection there is refused. */
guint16 hearth_test_closed_port (void);

G_END_DECLS
