/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hearthd --restore FILE: the offline half of backup and restore (the
 * online half is the admin socket's backup method, admin.c). main.c runs it
 * instead of the daemon, and hearthctl restore runs hearthd --restore, so
 * that only hearthd opens the database. The store's restore (store-backup.c)
 * checks the file and copies its database; this file puts it and the key,
 * certificate and root CA it carries into an empty state directory, and
 * gives them to the directory's owner when run as root (the packaged
 * daemon's user). Single-threaded; no main loop.
 */
#define G_LOG_DOMAIN "hearth-restore"

#include "restore.h"
#include "certs.h"
#include "control.h"
#include "error.h"
#include "store.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <unistd.h>

/* Creates @dir 0700 if missing; refuses one that has anything in it. */
static gboolean
prepare_dir (const char *dir, GError **error)
{
  g_autoptr (GDir) d = NULL;

  if (!g_file_test (dir, G_FILE_TEST_EXISTS) && g_mkdir_with_parents (dir, 0700) != 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                 "cannot create %s: %s", dir, g_strerror (saved));
    return FALSE;
  }
  d = g_dir_open (dir, 0, error);
  if (d == NULL)
    return FALSE;
  if (g_dir_read_name (d) != NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_EMPTY,
                 "%s is not empty: restore only into an empty state directory (move "
                 "the old one away first)", dir);
    return FALSE;
  }
  if (g_chmod (dir, 0700) != 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                 "cannot make %s private: %s", dir, g_strerror (saved));
    return FALSE;
  }
  return TRUE;
}

/* Gives what root restored to the owner of the state directory (the daemon's
 * user), so that hearthd can open it. */
static gboolean
give_to_owner (const char *dir, const char *const *names, GError **error)
{
  GStatBuf st;

  if (geteuid () != 0 || g_stat (dir, &st) != 0 || st.st_uid == 0)
    return TRUE;
  for (guint i = 0; names[i] != NULL; i++) {
    g_autofree char *path = g_build_filename (dir, names[i], NULL);

    if (lchown (path, st.st_uid, st.st_gid) != 0) {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot give %s to the owner of %s: %s", path, dir,
                   g_strerror (saved));
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * hearth_restore:
 * @backup: the backup file
 * @state_dir: the state directory to restore into
 * @socket_path: the admin socket of a hearthd that would use @state_dir
 * @error: return location for a #GError
 *
 * Returns: %TRUE when @state_dir holds the backup's database and files
 */
gboolean
hearth_restore (const char *backup, const char *state_dir, const char *socket_path,
                GError **error)
{
  /* The root CA is not in backups made before the gateway had one: hearthd
   * then makes it, and displays move their pin to it. */
  static const char *const restored[] = {
    HEARTH_STATE_DB_FILE, HEARTH_STATE_KEY_FILE, HEARTH_STATE_CERT_FILE,
    HEARTH_STATE_CA_KEY_FILE, HEARTH_STATE_CA_CERT_FILE, NULL
  };
  const guint n_required = 3;
  g_autoptr (GPtrArray) written = g_ptr_array_new ();
  g_autoptr (GHashTable) files = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *db_path = NULL;

  if (!g_file_test (backup, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND, "%s: no such backup file",
                 backup);
    return FALSE;
  }
  if (hearth_control_socket_answers (socket_path)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
                 "hearthd is running (it answers at %s): stop it before restoring",
                 socket_path);
    return FALSE;
  }
  if (!prepare_dir (state_dir, error))
    return FALSE;

  db_path = g_build_filename (state_dir, HEARTH_STATE_DB_FILE, NULL);
  if (!hearth_store_restore (backup, db_path, &files, error))
    return FALSE;
  for (guint i = 1; restored[i] != NULL && local_error == NULL; i++) {
    g_autofree char *path = g_build_filename (state_dir, restored[i], NULL);
    GBytes *content = g_hash_table_lookup (files, restored[i]);
    gsize size = 0;
    const char *data = content != NULL ? g_bytes_get_data (content, &size) : NULL;

    if (content == NULL && i < n_required)
      g_set_error (&local_error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "%s: the backup has no %s", backup, restored[i]);
    else if (content != NULL &&
             g_file_set_contents_full (path, data != NULL ? data : "", (gssize) size,
                                       G_FILE_SET_CONTENTS_CONSISTENT, 0600, &local_error))
      g_ptr_array_add (written, (gpointer) restored[i]);
  }
  g_ptr_array_insert (written, 0, (gpointer) restored[0]);
  g_ptr_array_add (written, NULL);
  if (local_error == NULL)
    give_to_owner (state_dir, (const char *const *) written->pdata, &local_error);
  if (local_error != NULL) {
    /* Leave the directory as empty as it was. */
    for (guint i = 0; restored[i] != NULL; i++) {
      g_autofree char *path = g_build_filename (state_dir, restored[i], NULL);
      g_unlink (path);
    }
    g_propagate_error (error, g_steal_pointer (&local_error));
    return FALSE;
  }
  return TRUE;
}
