/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Whether this process is the program Meson built at @built (as
 * /proc/self/exe resolves it): a program run from its build tree uses what
 * was built beside it (hearthd its plugins, hearthctl its hearthd). An
 * installed or copied binary never is, and nothing in the environment can
 * make it so. */
gboolean hearth_build_tree_runs (const char *built);

G_END_DECLS
