/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * hearthd --restore: a backup made by hearthctl backup (the admin socket's
 * backup method) into an empty state directory, with no hearthd running.
 * See restore.c.
 */

/* Restores @backup into @state_dir (created 0700 if missing; it must be
 * empty) while no hearthd answers at @socket_path. Errors: NOT_FOUND (no
 * such file), EXISTS (a hearthd answers), G_IO_ERROR (the directory: not
 * empty, cannot be made or written), others (not a backup). Nothing is
 * left in @state_dir on failure, and a kill leaves all or nothing (see
 * hearth_restore_recover()). */
gboolean hearth_restore (const char *backup, const char *state_dir,
                         const char *socket_path, GError **error);

/* A restore killed half-way: finishes it if all of it was staged, else
 * removes what it staged. hearthd runs it before it opens the store. */
gboolean hearth_restore_recover (const char *state_dir, GError **error);

G_END_DECLS
