/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The store's internals, shared by its files (store.c, store-db.c,
 * store-cameras.c, store-backup.c) and included by no other file: the
 * HearthStore instance, the helpers every query goes through, and the audit
 * row that every change writes. It includes sqlite3.h, which store.h and
 * store-private.h (included elsewhere) must not.
 */

#include "store.h"

#include <sqlite3.h>

#include "autocleanups.h"

/* STRICT tables (schema/0001) and SQLITE_OPEN_EXRESCODE. */
#if SQLITE_VERSION_NUMBER < 3037000
#error "Hearth's store needs SQLite 3.37 or newer"
#endif

G_BEGIN_DECLS

/* How long a connection waits for another one's write lock. */
#define BUSY_TIMEOUT_MS 5000

struct _HearthStore {
  GObject parent_instance;

  sqlite3 *db;
  char *path;
  int schema_version;
};

/*
 * Statements (store-db.c). Failures are HEARTH_ERROR_STORE with @what and
 * SQLite's message; text is bound SQLITE_STATIC.
 */
void store_set_error (HearthStore *self, GError **error, const char *what);
sqlite3_stmt *store_prepare (HearthStore *self, const char *sql, GError **error);
gboolean store_bound (HearthStore *self, int rc, GError **error);
gboolean store_step_done (HearthStore *self, sqlite3_stmt *stmt, const char *what,
                          GError **error);
gboolean store_step_row (HearthStore *self, sqlite3_stmt *stmt, gboolean *has_row,
                         const char *what, GError **error);
gboolean store_exec (HearthStore *self, const char *sql, const char *what,
                     GError **error);
char *store_column_dup (sqlite3_stmt *stmt, int col);
GPtrArray *store_collect_rows (HearthStore *self, sqlite3_stmt *stmt,
                               gpointer (*from_row) (sqlite3_stmt *),
                               GDestroyNotify free_row, const char *what,
                               GError **error);

/* Transactions (store-db.c): BEGIN IMMEDIATE, then commit or roll back. */
gboolean store_tx_begin (HearthStore *self, GError **error);
gboolean store_tx_finish (HearthStore *self, gboolean ok, GError **error);

/* hearth_store_validate_text() with the length of a name. */
gboolean store_validate_name (const char *what, const char *name, GError **error);

/*
 * A name no row has yet (store-db.c): @name if @taken_sql (?1 = a name,
 * ?2 = @scope when it has a ?2) returns no row, else the first free
 * "@name (N)", N = 2, 3, ..., @name cut to fit the 64 bytes of a name.
 */
#define STORE_HOUSEHOLD_NAME_TAKEN \
  "SELECT 1 FROM households WHERE name = ?1 COLLATE NOCASE"
#define STORE_CAMERA_NAME_TAKEN \
  "SELECT 1 FROM cameras WHERE name = ?1 COLLATE NOCASE AND household_id = ?2"
char *store_free_name (HearthStore *self, const char *taken_sql, gint64 scope,
                       const char *name, GError **error);

/* The audit row of a change, in the caller's transaction (store.c). */
gboolean store_audit_insert (HearthStore *self, const char *kind, gint64 household_id,
                             const char *detail, GError **error);

G_END_DECLS
