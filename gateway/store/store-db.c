/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The helpers the store's files go through for every query (store-db.h):
 * preparing, binding and stepping statements with errors that say what was
 * being done, the BEGIN IMMEDIATE transactions of every change (see store.c),
 * and the checks of text that people will see (names, URLs, reasons).
 */
#define G_LOG_DOMAIN "hearth-store-db"

#include "store-db.h"

#include "error.h"

#include <string.h>

#define NAME_MAX_BYTES 64

/* SQLite helpers */

void
store_set_error (HearthStore *self, GError **error, const char *what)
{
  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE, "%s: %s", what,
               sqlite3_errmsg (self->db));
}

sqlite3_stmt *
store_prepare (HearthStore *self, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
    g_autofree char *what = g_strdup_printf ("preparing “%s”", sql);

    store_set_error (self, error, what);
    return NULL;
  }
  return stmt;
}

/*
 * Binding only fails for a wrong index or an over-long value, so the binds of
 * one statement are OR-ed together and checked once: non-zero means one failed.
 * Text is bound SQLITE_STATIC; every caller keeps its strings alive until the
 * statement is finalized.
 */
gboolean
store_bound (HearthStore *self, int rc, GError **error)
{
  if (rc == SQLITE_OK)
    return TRUE;
  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE,
               "binding statement parameters: %s", sqlite3_errmsg (self->db));
  return FALSE;
}

/* Steps a statement that returns no rows. */
gboolean
store_step_done (HearthStore *self, sqlite3_stmt *stmt, const char *what, GError **error)
{
  if (sqlite3_step (stmt) == SQLITE_DONE)
    return TRUE;
  store_set_error (self, error, what);
  return FALSE;
}

/* Steps to the next row: TRUE with *has_row set, or FALSE on error. */
gboolean
store_step_row (HearthStore *self, sqlite3_stmt *stmt, gboolean *has_row,
                const char *what, GError **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
    *has_row = (rc == SQLITE_ROW);
    return TRUE;
  }
  store_set_error (self, error, what);
  return FALSE;
}

gboolean
store_exec (HearthStore *self, const char *sql, const char *what, GError **error)
{
  if (sqlite3_exec (self->db, sql, NULL, NULL, NULL) == SQLITE_OK)
    return TRUE;
  store_set_error (self, error, what);
  return FALSE;
}

char *
store_column_dup (sqlite3_stmt *stmt, int col)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, col));
}

/* Steps @stmt to its end, one element per row. */
GPtrArray *
store_collect_rows (HearthStore *self, sqlite3_stmt *stmt,
                    gpointer (*from_row) (sqlite3_stmt *), GDestroyNotify free_row,
                    const char *what, GError **error)
{
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func (free_row);
  gboolean has_row;

  for (;;) {
    if (!store_step_row (self, stmt, &has_row, what, error))
      return NULL;
    if (!has_row)
      return g_steal_pointer (&list);
    g_ptr_array_add (list, from_row (stmt));
  }
}

/* Transactions */

gboolean
store_tx_begin (HearthStore *self, GError **error)
{
  /* IMMEDIATE: take the write lock now (waiting up to the busy timeout), so
   * what the transaction reads cannot change before it writes. */
  return store_exec (self, "BEGIN IMMEDIATE", "starting a transaction", error);
}

static void
tx_rollback (HearthStore *self)
{
  if (!sqlite3_get_autocommit (self->db))
    sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
}

static gboolean
tx_commit (HearthStore *self, GError **error)
{
  if (store_exec (self, "COMMIT", "committing a transaction", error))
    return TRUE;
  tx_rollback (self);
  return FALSE;
}

/* Commits when the work went well (@ok), else rolls back. */
gboolean
store_tx_finish (HearthStore *self, gboolean ok, GError **error)
{
  if (ok)
    return tx_commit (self, error);
  tx_rollback (self);
  return FALSE;
}

/* Validation */

static gboolean
unichar_is_clean (gunichar c)
{
  switch (g_unichar_type (c)) {
  case G_UNICODE_CONTROL:
  case G_UNICODE_LINE_SEPARATOR:
  case G_UNICODE_PARAGRAPH_SEPARATOR:
    return FALSE;
  default:
    break;
  }
  /* Bidi embeddings, overrides and isolates make a name print as another. */
  if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
    return FALSE;
  return TRUE;
}

/*
 * Text shown to people (names, URLs): 1..@max_bytes bytes of UTF-8 without
 * control characters, line breaks or bidi overrides.
 */
gboolean
hearth_store_validate_text (const char *what, const char *value, gsize max_bytes, GError **error)
{
  gsize len;

  if (value == NULL || *value == '\0') {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID, "%s is empty", what);
    return FALSE;
  }
  len = strlen (value);
  if (len > max_bytes) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "%s is longer than %" G_GSIZE_FORMAT " bytes", what, max_bytes);
    return FALSE;
  }
  if (!g_utf8_validate (value, len, NULL)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID, "%s is not valid UTF-8", what);
    return FALSE;
  }
  for (const char *p = value; *p != '\0'; p = g_utf8_next_char (p)) {
    if (!unichar_is_clean (g_utf8_get_char (p))) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "%s contains a control character", what);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
store_validate_name (const char *what, const char *name, GError **error)
{
  return hearth_store_validate_text (what, name, NAME_MAX_BYTES, error);
}

/* "@name (@n)", @name cut at a character boundary so that it fits. */
static char *
name_with_number (const char *name, guint n)
{
  g_autofree char *suffix = g_strdup_printf (" (%u)", n);
  gsize room = NAME_MAX_BYTES - strlen (suffix);
  const char *end = name + strlen (name);

  while ((gsize) (end - name) > room)
    end = g_utf8_find_prev_char (name, end);
  return g_strdup_printf ("%.*s%s", (int) (end - name), name, suffix);
}

char *
store_free_name (HearthStore *self, const char *taken_sql, gint64 scope,
                 const char *name, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = store_prepare (self, taken_sql, error);
  g_autofree char *candidate = g_strdup (name);

  if (stmt == NULL)
    return NULL;
  /* Ends: every taken candidate is another row's name. */
  for (guint n = 2;; n++) {
    gboolean taken;
    int rc;

    sqlite3_reset (stmt);
    rc = sqlite3_bind_text (stmt, 1, candidate, -1, SQLITE_TRANSIENT);
    if (sqlite3_bind_parameter_count (stmt) >= 2)
      rc |= sqlite3_bind_int64 (stmt, 2, scope);
    if (!store_bound (self, rc, error) ||
        !store_step_row (self, stmt, &taken, "looking for a free name", error))
      return NULL;
    if (!taken)
      return g_steal_pointer (&candidate);
    g_free (candidate);
    candidate = name_with_number (name, n);
  }
}
