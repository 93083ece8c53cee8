/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Stands in for the shared unit-test fixture (fixture.h, HearthTestFixture)
 * with the same names, for the tests that need only part of it: their own
 * main context, pushed as the thread default, and a temporary state
 * directory removed with what it holds. A test that includes this switches
 * to the shared fixture by including fixture.h instead (and linking it).
 */
#include <glib.h>
#include <glib/gstdio.h>

typedef struct {
  GMainContext *context;  /* the test's own, pushed as thread default */
  char *state_dir;        /* a fresh temporary directory */
} HearthTestFixture;

static inline void
hearth_test_fixture_setup (HearthTestFixture *self, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  self->context = g_main_context_new ();
  g_main_context_push_thread_default (self->context);
  self->state_dir = g_dir_make_tmp ("hearth-test-XXXXXX", &error);
  g_assert_no_error (error);
}

/* The tests' directories hold files only. */
static inline void
hearth_test_fixture_teardown (HearthTestFixture *self, gconstpointer data)
{
  g_autoptr (GDir) dir = g_dir_open (self->state_dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    g_autofree char *path = g_build_filename (self->state_dir, name, NULL);

    g_assert_cmpint (g_remove (path), ==, 0);
  }
  g_assert_cmpint (g_rmdir (self->state_dir), ==, 0);
  g_clear_pointer (&self->state_dir, g_free);
  g_main_context_pop_thread_default (self->context);
  g_clear_pointer (&self->context, g_main_context_unref);
}

#define hearth_test_add(path, data, func) \
  g_test_add ((path), HearthTestFixture, (data), hearth_test_fixture_setup, \
              (func), hearth_test_fixture_teardown)
