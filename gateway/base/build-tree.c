/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whether a program runs from the build tree it was built in (build-tree.h):
 * the plugin loader (plugins.c) and hearthctl ask, to use the files built
 * beside them instead of the installed ones.
 */
#define G_LOG_DOMAIN "hearth-build-tree"

#include "build-tree.h"

#include <stdlib.h>
#include <string.h>

gboolean
hearth_build_tree_runs (const char *built)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *resolved = realpath (built, NULL);

  return self != NULL && resolved != NULL && strcmp (self, resolved) == 0;
}
