/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "store.h"

G_BEGIN_DECLS

/*
 * The migration runner behind hearth_store_open(), for tests that need other
 * migrations than the ones compiled in from schema/. (The store's own
 * internals are in store-db.h, which includes sqlite3.h and is for the
 * store's files only.)
 */
typedef struct {
  const char *name;   /* "NNNN-what.sql"; NNNN is the schema version it makes */
  const char *sql;    /* statements; no BEGIN/COMMIT (the runner wraps them) */
} HearthMigration;

/*
 * Opens (creating, mode 0600) @path and applies the @migrations above its
 * PRAGMA user_version, in order, each in one transaction with the version bump.
 * @migrations must be numbered 1..@n_migrations in order. (transfer full)
 */
HearthStore *hearth_store_open_with_migrations (const char *path,
                                                const HearthMigration *migrations,
                                                guint n_migrations,
                                                GError **error);

G_END_DECLS
