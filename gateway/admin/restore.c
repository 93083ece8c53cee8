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
 *
 * A restore killed half-way must leave either nothing or all of it: every
 * file is written into a staging directory inside the state directory
 * (STAGING_DIR), synced, and marked complete (COMPLETE_MARK); only then are
 * the files moved into place, the database last. hearth_restore_recover(),
 * run by every hearthd start and every restore, finishes a complete staging
 * and removes an incomplete one.
 */
#define G_LOG_DOMAIN "hearth-restore"

#include "restore.h"
#include "certs.h"
#include "control.h"
#include "error.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <unistd.h>

#define STAGING_DIR ".hearth-restore"
#define COMPLETE_MARK "complete"

/* What a backup restores, in the order it is moved into place: the database
 * last, so that a state directory with a database has all the rest. The root
 * CA is not in backups made before the gateway had one: hearthd then makes
 * it, and displays move their pin to it. */
static const char *const restored[] = {
  HEARTH_STATE_KEY_FILE, HEARTH_STATE_CERT_FILE, HEARTH_STATE_CA_KEY_FILE,
  HEARTH_STATE_CA_CERT_FILE, HEARTH_STATE_DB_FILE, NULL
};

static gboolean
set_errno_error (GError **error, int saved, const char *what, const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot %s %s: %s",
               what, path, g_strerror (saved));
  return FALSE;
}

/* The directory's entries (a file's creation or rename) on disk. */
static gboolean
sync_dir (const char *dir, GError **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved;

  if (fd >= 0 && fsync (fd) == 0) {
    close (fd);
    return TRUE;
  }
  saved = errno;
  if (fd >= 0)
    close (fd);
  return set_errno_error (error, saved, "sync", dir);
}

/* Empties and removes @staging (a restore that never became complete). */
static void
remove_staging (const char *staging)
{
  g_autoptr (GDir) d = g_dir_open (staging, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    g_autofree char *path = g_build_filename (staging, name, NULL);

    if (g_unlink (path) != 0)
      g_warning ("Cannot remove %s: %s", path, g_strerror (errno));
  }
  if (g_rmdir (staging) != 0 && errno != ENOENT)
    g_warning ("Cannot remove %s: %s", staging, g_strerror (errno));
}

/* Moves a complete staging's files into @state_dir, the database last, then
 * removes it. Safe to repeat after a kill. */
static gboolean
finish_staging (const char *state_dir, const char *staging, GError **error)
{
  g_autofree char *mark = g_build_filename (staging, COMPLETE_MARK, NULL);

  for (guint i = 0; restored[i] != NULL; i++) {
    g_autofree char *from = g_build_filename (staging, restored[i], NULL);
    g_autofree char *to = g_build_filename (state_dir, restored[i], NULL);

    if (g_rename (from, to) != 0 && errno != ENOENT)
      return set_errno_error (error, errno, "move into place", from);
  }
  if (!sync_dir (state_dir, error))
    return FALSE;
  if (g_unlink (mark) != 0 && errno != ENOENT)
    return set_errno_error (error, errno, "remove", mark);
  remove_staging (staging);
  return TRUE;
}

/**
 * hearth_restore_recover:
 * @state_dir: a state directory
 *
 * Finishes a restore that was killed after all of it was staged, or removes
 * one killed before. Does nothing when no restore was interrupted.
 *
 * Returns: %FALSE with @error set when a complete restore cannot be moved
 *   into place
 */
gboolean
hearth_restore_recover (const char *state_dir, GError **error)
{
  g_autofree char *staging = g_build_filename (state_dir, STAGING_DIR, NULL);
  g_autofree char *mark = g_build_filename (staging, COMPLETE_MARK, NULL);

  if (!g_file_test (staging, G_FILE_TEST_IS_DIR))
    return TRUE;
  if (!g_file_test (mark, G_FILE_TEST_EXISTS)) {
    g_message ("Removing %s: a restore stopped before it was complete", staging);
    remove_staging (staging);
    return TRUE;
  }
  g_message ("Finishing a restore that was stopped while it moved its files into %s",
             state_dir);
  if (!finish_staging (state_dir, staging, error)) {
    g_prefix_error (error, "finishing an interrupted restore: ");
    return FALSE;
  }
  return TRUE;
}

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
  const guint n_required = 2; /* the gateway's key and certificate */
  g_autoptr (GPtrArray) written = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) files = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *staging = g_build_filename (state_dir, STAGING_DIR, NULL);
  g_autofree char *db_path = g_build_filename (staging, HEARTH_STATE_DB_FILE, NULL);
  g_autofree char *mark = g_build_filename (staging, COMPLETE_MARK, NULL);

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
  /* An earlier restore stopped half-way is finished or undone first; a
   * finished one makes the directory non-empty, as it should. */
  if (g_file_test (state_dir, G_FILE_TEST_IS_DIR) &&
      !hearth_restore_recover (state_dir, error))
    return FALSE;
  if (!prepare_dir (state_dir, error))
    return FALSE;
  if (g_mkdir (staging, 0700) != 0)
    return set_errno_error (error, errno, "create", staging);

  g_ptr_array_add (written, g_strdup (STAGING_DIR));
  if (!hearth_store_restore (backup, db_path, &files, &local_error))
    goto failed;
  for (guint i = 0; restored[i] != NULL && local_error == NULL; i++) {
    g_autofree char *path = g_build_filename (staging, restored[i], NULL);
    GBytes *content = g_hash_table_lookup (files, restored[i]);
    gsize size = 0;
    const char *data = content != NULL ? g_bytes_get_data (content, &size) : NULL;

    if (g_str_equal (restored[i], HEARTH_STATE_DB_FILE))
      continue;
    if (content == NULL && i < n_required)
      g_set_error (&local_error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "%s: the backup has no %s", backup, restored[i]);
    else if (content != NULL &&
             g_file_set_contents_full (path, data != NULL ? data : "", (gssize) size,
                                       G_FILE_SET_CONTENTS_CONSISTENT, 0600, &local_error))
      g_ptr_array_add (written, g_build_filename (STAGING_DIR, restored[i], NULL));
  }
  if (local_error != NULL)
    goto failed;
  g_ptr_array_add (written, g_build_filename (STAGING_DIR, HEARTH_STATE_DB_FILE, NULL));
  g_ptr_array_add (written, NULL);
  /* Owned by the daemon's user before it is complete: a hearthd that finds
   * it complete must be able to move it. Then on disk, then marked. */
  if (!give_to_owner (state_dir, (const char *const *) written->pdata, &local_error) ||
      !sync_dir (staging, &local_error) ||
      !g_file_set_contents_full (mark, "", 0, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                 &local_error) ||
      !sync_dir (staging, &local_error))
    goto failed;
  return finish_staging (state_dir, staging, error);

failed:
  /* Leave the directory as empty as it was. */
  remove_staging (staging);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}
