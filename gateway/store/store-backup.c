/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthStore's backup and restore. A backup is one SQLite file: a
 * consistent copy of the store, taken with SQLite's online backup API while
 * the daemon serves, plus a table of the state files it carries (the
 * gateway's key and certificate). Restore checks such a file and copies its
 * store, without that table, into a new database; hearthd --restore runs it
 * (restore.c), offline, with the daemon stopped.
 */
#define G_LOG_DOMAIN "hearth-store-backup"

#include "store-db.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

/* Backup and restore */

/* The table a backup file carries besides the store's own tables. */
#define BACKUP_FILES_TABLE "hearth_backup_files"
#define BACKUP_RETRY_MS 10

static void
set_db_error (sqlite3 *db, GError **error, const char *what)
{
  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE, "%s: %s", what,
               db != NULL ? sqlite3_errmsg (db) : "out of memory");
}

/*
 * Copies all of @src into @dest with SQLite's online backup API in one step:
 * one consistent snapshot, even while other connections (or this one, between
 * transactions) keep writing. A locked source is retried up to the busy timeout.
 */
static gboolean
copy_database (sqlite3 *dest, sqlite3 *src, GError **error)
{
  sqlite3_backup *backup = sqlite3_backup_init (dest, "main", src, "main");
  int waited_ms = 0;
  int rc;

  if (backup == NULL) {
    set_db_error (dest, error, "starting the copy");
    return FALSE;
  }
  for (;;) {
    rc = sqlite3_backup_step (backup, -1);
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited_ms >= BUSY_TIMEOUT_MS)
      break;
    sqlite3_sleep (BACKUP_RETRY_MS);
    waited_ms += BACKUP_RETRY_MS;
  }
  if (sqlite3_backup_finish (backup) != SQLITE_OK || rc != SQLITE_DONE) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE, "copying the database: %s",
                 rc != SQLITE_DONE ? sqlite3_errstr (rc) : sqlite3_errmsg (dest));
    return FALSE;
  }
  return TRUE;
}

/* Creates @path (which must not exist) 0600 and opens it read-write. */
static sqlite3 *
open_new_file (const char *path, GError **error)
{
  sqlite3 *db = NULL;
  int fd = g_open (path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

  if (fd < 0) {
    int errsv = errno;

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 "cannot create %s: %s", path, g_strerror (errsv));
    return NULL;
  }
  close (fd);
  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE,
                       NULL) != SQLITE_OK) {
    set_db_error (db, error, path);
    sqlite3_close_v2 (db);
    g_unlink (path);
    return NULL;
  }
  sqlite3_busy_timeout (db, BUSY_TIMEOUT_MS);
  return db;
}

static gboolean
db_exec (sqlite3 *db, const char *sql, GError **error)
{
  if (sqlite3_exec (db, sql, NULL, NULL, NULL) == SQLITE_OK)
    return TRUE;
  set_db_error (db, error, sql);
  return FALSE;
}

static gboolean
backup_write_files (sqlite3 *db, GHashTable *files, GError **error)
{
  g_autoptr (sqlite3_stmt) insert = NULL;
  GHashTableIter iter;
  gpointer name, bytes;

  if (!db_exec (db, "CREATE TABLE " BACKUP_FILES_TABLE " ("
                    " name TEXT PRIMARY KEY NOT NULL,"
                    " content BLOB NOT NULL) STRICT", error))
    return FALSE;
  if (sqlite3_prepare_v2 (db, "INSERT INTO " BACKUP_FILES_TABLE " (name, content) "
                              "VALUES (?, ?)", -1, &insert, NULL) != SQLITE_OK) {
    set_db_error (db, error, "storing the state files");
    return FALSE;
  }
  g_hash_table_iter_init (&iter, files);
  while (g_hash_table_iter_next (&iter, &name, &bytes)) {
    gsize size;
    gconstpointer data = g_bytes_get_data (bytes, &size);

    sqlite3_reset (insert);
    if (sqlite3_bind_text (insert, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob64 (insert, 2, data != NULL ? data : "", size,
                             SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step (insert) != SQLITE_DONE) {
      set_db_error (db, error, "storing the state files");
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * hearth_store_backup:
 * @path: the backup file to create (must not exist); 0600
 * @files: (element-type utf8 GBytes): state files to carry, name → content
 *
 * Writes one self-contained SQLite file: a consistent copy of the store made
 * with the online backup API, plus a table holding @files. Safe while the
 * daemon serves: it reads one snapshot and never blocks other readers.
 * On failure nothing is left at @path.
 */
gboolean
hearth_store_backup (HearthStore *self, const char *path, GHashTable *files,
                     GError **error)
{
  sqlite3 *dest;
  mode_t old_umask;
  gboolean ok;

  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);
  g_return_val_if_fail (path != NULL && files != NULL, FALSE);

  old_umask = umask (077);  /* the rollback journal of the copy, too */
  dest = open_new_file (path, error);
  ok = dest != NULL &&
       copy_database (dest, self->db, error) &&
       /* One file, no -wal companion, so that it can be copied as it is. */
       db_exec (dest, "PRAGMA journal_mode = DELETE", error) &&
       db_exec (dest, "BEGIN", error) &&
       backup_write_files (dest, files, error) &&
       db_exec (dest, "COMMIT", error);
  /* Every statement is finalized by now: this closes for real. */
  if (dest != NULL)
    sqlite3_close_v2 (dest);
  umask (old_umask);
  if (!ok) {
    if (dest != NULL)
      g_unlink (path);
    g_prefix_error (error, "backup %s: ", path);
  }
  return ok;
}

static GHashTable *
backup_read_files (sqlite3 *db, GError **error)
{
  g_autoptr (GHashTable) files = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                        g_free,
                                                        (GDestroyNotify) g_bytes_unref);
  g_autoptr (sqlite3_stmt) select = NULL;
  int rc;

  if (sqlite3_prepare_v2 (db, "SELECT name, content FROM " BACKUP_FILES_TABLE,
                          -1, &select, NULL) != SQLITE_OK) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "not a Hearth backup (made by hearthctl backup)");
    return NULL;
  }
  while ((rc = sqlite3_step (select)) == SQLITE_ROW) {
    const void *data = sqlite3_column_blob (select, 1);
    int size = sqlite3_column_bytes (select, 1);

    g_hash_table_replace (files, store_column_dup (select, 0),
                          g_bytes_new (data, (gsize) size));
  }
  if (rc != SQLITE_DONE) {
    set_db_error (db, error, "reading the state files");
    return NULL;
  }
  return g_steal_pointer (&files);
}

static gboolean
backup_check_integrity (sqlite3 *db, GError **error)
{
  g_autoptr (sqlite3_stmt) check = NULL;
  const char *result;

  if (sqlite3_prepare_v2 (db, "PRAGMA integrity_check (1)", -1, &check,
                          NULL) != SQLITE_OK ||
      sqlite3_step (check) != SQLITE_ROW) {
    set_db_error (db, error, "checking the backup");
    return FALSE;
  }
  result = (const char *) sqlite3_column_text (check, 0);
  if (g_strcmp0 (result, "ok") != 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "the backup is damaged: %s", result != NULL ? result : "?");
    return FALSE;
  }
  return TRUE;
}

/**
 * hearth_store_restore:
 * @backup_path: a file made by hearth_store_backup()
 * @db_path: the database to create (must not exist); 0600
 * @files: (out) (element-type utf8 GBytes): the state files the backup carries
 *
 * Checks the backup (integrity, and that it is one), copies its store into
 * @db_path without the carried files and returns those. The copy keeps the
 * schema version of the backup: the daemon migrates it when it opens it.
 * On failure nothing is left at @db_path.
 */
gboolean
hearth_store_restore (const char *backup_path, const char *db_path,
                      GHashTable **files, GError **error)
{
  g_autoptr (GHashTable) carried = NULL;
  sqlite3 *src = NULL;
  sqlite3 *dest = NULL;
  mode_t old_umask;
  gboolean ok;

  g_return_val_if_fail (backup_path != NULL && db_path != NULL, FALSE);
  g_return_val_if_fail (files != NULL, FALSE);

  if (sqlite3_open_v2 (backup_path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_EXRESCODE,
                       NULL) != SQLITE_OK) {
    set_db_error (src, error, "cannot open");
    sqlite3_close_v2 (src);
    g_prefix_error (error, "%s: ", backup_path);
    return FALSE;
  }
  ok = backup_check_integrity (src, error) &&
       (carried = backup_read_files (src, error)) != NULL;
  if (!ok) {
    sqlite3_close_v2 (src);
    g_prefix_error (error, "%s: ", backup_path);
    return FALSE;
  }

  old_umask = umask (077);
  dest = open_new_file (db_path, error);
  ok = dest != NULL &&
       copy_database (dest, src, error) &&
       /* The carried keys must not stay behind in the freed pages. */
       db_exec (dest, "PRAGMA secure_delete = ON", error) &&
       db_exec (dest, "DROP TABLE " BACKUP_FILES_TABLE, error);
  if (dest != NULL)
    sqlite3_close_v2 (dest);
  umask (old_umask);
  sqlite3_close_v2 (src);
  if (!ok) {
    if (dest != NULL)
      g_unlink (db_path);
    g_prefix_error (error, "restoring %s into %s: ", backup_path, db_path);
    return FALSE;
  }
  *files = g_steal_pointer (&carried);
  return TRUE;
}
