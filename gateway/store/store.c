/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthStore: the gateway's persistent state in one SQLite file — households
 * (with their CA), cameras, displays, pairing windows and the audit log.
 *
 * The daemon opens one store at start on the main context; hearthctl goes
 * through the daemon, and only hearthd opens a store: restore
 * (store-backup.c) is hearthd --restore (restore.c), run with the daemon
 * stopped.
 *
 * The store's files are the only ones that include sqlite3.h, through
 * store-db.h, which no other file includes:
 *
 *   store.c          the type, opening and migrations, households, displays,
 *                    pairing windows and the audit log
 *   store-db.c       the statement, transaction and validation helpers
 *   store-cameras.c  camera rows: adoption, identity evidence, quarantine,
 *                    credentials
 *   store-backup.c   backup and restore
 *
 * The file is created 0600 (it holds the households' CA keys) and its -wal and
 * -shm companions are created under umask 077. The connection runs in WAL mode
 * with foreign keys on, synchronous=NORMAL and a 5 s busy timeout, so that a
 * second connection (a second process, or a test) waits for the writer instead
 * of failing.
 *
 * Migrations are the resources under /org/hearth/schema/ (schema/NNNN-what.sql,
 * NNNN = the schema version it produces). Each one runs in its own transaction
 * together with the PRAGMA user_version bump, so a failed migration leaves the
 * file as it was. A file from a newer schema than this build knows is refused.
 *
 * Every change of more than one statement, and every change together with its
 * audit row, is one BEGIN IMMEDIATE transaction: the write lock is taken before
 * anything is read, so two connections never decide on the same stale state
 * (two displays redeeming one token: one gets it, the other TOKEN_SPENT).
 *
 * Times: households/cameras/displays "created" and displays "revoked_at" are
 * unix seconds; pairing window expiry and audit "at" are unix microseconds.
 */
#define G_LOG_DOMAIN "hearth-store"

#include "store-private.h"
#include "store-db.h"

#include "error.h"
#include "hearth-schema.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#define SCHEMA_RESOURCE_PATH "/org/hearth/schema/"
#define KIND_MAX_BYTES 64
#define TOKEN_HASH_LEN 32
#define FINGERPRINT_LEN 64

G_DEFINE_FINAL_TYPE (HearthStore, hearth_store, G_TYPE_OBJECT)

static void
hearth_store_finalize (GObject *object)
{
  HearthStore *self = HEARTH_STORE (object);

  /* Every statement is finalized by its g_autoptr, so this closes for real. */
  g_clear_pointer (&self->db, sqlite3_close_v2);
  g_clear_pointer (&self->path, g_free);

  G_OBJECT_CLASS (hearth_store_parent_class)->finalize (object);
}

static void
hearth_store_class_init (HearthStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = hearth_store_finalize;
}

static void
hearth_store_init (HearthStore *self)
{
}

/* Row types */

void
hearth_household_free (HearthHousehold *h)
{
  if (h == NULL)
    return;
  g_free (h->name);
  g_free (h->ca_cert_pem);
  if (h->ca_key_pem != NULL)
    explicit_bzero (h->ca_key_pem, strlen (h->ca_key_pem));
  g_free (h->ca_key_pem);
  g_free (h);
}

void
hearth_display_row_free (HearthDisplayRow *d)
{
  if (d == NULL)
    return;
  g_free (d->household);
  g_free (d->name);
  g_free (d->fingerprint);
  g_free (d->cert_pem);
  g_free (d);
}

void
hearth_audit_row_free (HearthAuditRow *a)
{
  if (a == NULL)
    return;
  g_free (a->kind);
  g_free (a->detail);
  g_free (a);
}

/* Opening and migrations */

/* A single-integer query such as a PRAGMA. */
static gboolean
query_int (HearthStore *self, const char *sql, gint64 *out, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = store_prepare (self, sql, error);
  gboolean has_row;

  if (stmt == NULL || !store_step_row (self, stmt, &has_row, sql, error))
    return FALSE;
  if (!has_row) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE, "“%s” returned no row", sql);
    return FALSE;
  }
  *out = sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* "NNNN-what.sql" → NNNN, or -1. */
static int
migration_version (const char *name)
{
  gsize len = strlen (name);

  if (len < strlen ("0000-x.sql") || !g_str_has_suffix (name, ".sql") || name[4] != '-')
    return -1;
  for (int i = 0; i < 4; i++) {
    if (!g_ascii_isdigit (name[i]))
      return -1;
  }
  return (int) g_ascii_strtoll (name, NULL, 10);
}

/* Makes an existing file private again if it was readable by others. */
static gboolean
restrict_mode (const char *path, GError **error)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return TRUE;  /* not there yet: it will be created under umask 077 */
  if ((st.st_mode & 077) == 0)
    return TRUE;
  if (g_chmod (path, 0600) != 0) {
    int errsv = errno;

    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE,
                 "%s is readable by others and cannot be made private: %s",
                 path, g_strerror (errsv));
    return FALSE;
  }
  g_warning ("%s was readable by others; it is now 0600", path);
  return TRUE;
}

static gboolean
store_open_file (HearthStore *self, GError **error)
{
  static const char *const companions[] = { "-wal", "-shm", "-journal" };
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
              SQLITE_OPEN_EXRESCODE;
  GStatBuf st;
  int fd;

  /* Create the file ourselves so that it is 0600 from its first moment. */
  fd = g_open (self->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    int errsv = errno;

    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE, "cannot open: %s",
                 g_strerror (errsv));
    return FALSE;
  }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
    close (fd);
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE, "not a regular file");
    return FALSE;
  }
  close (fd);

  if (!restrict_mode (self->path, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (companions); i++) {
    g_autofree char *companion = g_strconcat (self->path, companions[i], NULL);

    if (!restrict_mode (companion, error))
      return FALSE;
  }

  if (sqlite3_open_v2 (self->path, &self->db, flags, NULL) != SQLITE_OK) {
    if (self->db == NULL) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE, "cannot open: out of memory");
      return FALSE;
    }
    store_set_error (self, error, "cannot open");
    return FALSE;
  }
  return TRUE;
}

static gboolean
store_configure (HearthStore *self, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  gboolean has_row;
  gint64 foreign_keys = 0;
  const char *mode;

  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);
  /* No writable_schema tricks or other schema-corrupting statements. */
  sqlite3_db_config (self->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);

  stmt = store_prepare (self, "PRAGMA journal_mode = WAL", error);
  if (stmt == NULL || !store_step_row (self, stmt, &has_row, "setting WAL mode", error))
    return FALSE;
  mode = has_row ? (const char *) sqlite3_column_text (stmt, 0) : NULL;
  if (g_strcmp0 (mode, "wal") != 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE,
                 "cannot switch to WAL mode (journal mode stays “%s”)",
                 mode != NULL ? mode : "unknown");
    return FALSE;
  }

  if (!store_exec (self, "PRAGMA synchronous = NORMAL", "setting synchronous mode", error) ||
      !store_exec (self, "PRAGMA foreign_keys = ON", "enabling foreign keys", error) ||
      !query_int (self, "PRAGMA foreign_keys", &foreign_keys, error))
    return FALSE;
  if (foreign_keys != 1) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE,
                 "this SQLite does not enforce foreign keys");
    return FALSE;
  }
  return TRUE;
}

/* Migrations own the transaction they run in; they may not end it. */
static int
deny_transactions (void *user_data, int action, const char *arg1,
                   const char *arg2, const char *db_name, const char *trigger)
{
  return action == SQLITE_TRANSACTION ? SQLITE_DENY : SQLITE_OK;
}

/*
 * Renames the later rows whose name another row of their scope has already,
 * ignoring case: each gets the first free "NAME (N)", a log line and a
 * "rename" audit row. @select_sql returns, oldest first, each such row's id,
 * its audit household, its name, the older row's name and what it is for
 * people; @update_sql binds ?1 = id and ?2 = the new name.
 */
static gboolean
rename_duplicates (HearthStore *self, const char *select_sql, const char *taken_sql,
                   const char *update_sql, GError **error)
{
  g_autoptr (sqlite3_stmt) select = store_prepare (self, select_sql, error);
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  gboolean has_row = TRUE;

  if (select == NULL)
    return FALSE;
  /* Read them all first: the renames change what the select sees. */
  while (store_step_row (self, select, &has_row, "looking for duplicate names", error) &&
         has_row) {
    char **row = g_new0 (char *, 6);

    for (int i = 0; i < 5; i++)
      row[i] = store_column_dup (select, i);
    g_ptr_array_add (rows, row);
  }
  if (has_row)
    return FALSE;

  for (guint i = 0; i < rows->len; i++) {
    char **row = rows->pdata[i];
    gint64 scope = g_ascii_strtoll (row[1], NULL, 10);
    g_autoptr (sqlite3_stmt) update = NULL;
    g_autofree char *name = NULL;
    g_autofree char *detail = NULL;

    name = store_free_name (self, taken_sql, scope, row[2], error);
    if (name == NULL)
      return FALSE;
    update = store_prepare (self, update_sql, error);
    if (update == NULL ||
        !store_bound (self, sqlite3_bind_text (update, 1, row[0], -1, SQLITE_STATIC) |
                            sqlite3_bind_text (update, 2, name, -1, SQLITE_STATIC),
                      error) ||
        !store_step_done (self, update, "renaming a duplicate name", error))
      return FALSE;
    detail = g_strdup_printf ("%s “%s” renamed “%s”: names are unique ignoring case "
                              "now, and “%s” is older", row[4], row[2], name, row[3]);
    g_message ("Upgrading the store: %s", detail);
    if (!store_audit_insert (self, "rename", scope, detail, error))
      return FALSE;
  }
  return TRUE;
}

/* Before schema/NNNN-unique-names.sql makes names unique ignoring case. */
static gboolean
rename_duplicate_names (HearthStore *self, GError **error)
{
  return rename_duplicates (
             self,
             "SELECT h.id, h.id, h.name, "
             "       (SELECT o.name FROM households o "
             "        WHERE o.name = h.name COLLATE NOCASE AND o.id < h.id "
             "        ORDER BY o.id LIMIT 1), "
             "       'household ' || h.id "
             "FROM households h "
             "WHERE EXISTS (SELECT 1 FROM households o "
             "              WHERE o.name = h.name COLLATE NOCASE AND o.id < h.id) "
             "ORDER BY h.id",
             STORE_HOUSEHOLD_NAME_TAKEN,
             "UPDATE households SET name = ?2 WHERE id = CAST (?1 AS INTEGER)", error) &&
         rename_duplicates (
             self,
             "SELECT c.id, c.household_id, c.name, "
             "       (SELECT o.name FROM cameras o "
             "        WHERE o.household_id = c.household_id AND o.name = c.name COLLATE NOCASE "
             "          AND (o.created, o.rowid) < (c.created, c.rowid) "
             "        ORDER BY o.created, o.rowid LIMIT 1), "
             "       'camera ' || c.id || ' of household “' || h.name || '”' "
             "FROM cameras c JOIN households h ON h.id = c.household_id "
             "WHERE EXISTS (SELECT 1 FROM cameras o "
             "              WHERE o.household_id = c.household_id "
             "                AND o.name = c.name COLLATE NOCASE "
             "                AND (o.created, o.rowid) < (c.created, c.rowid)) "
             "ORDER BY c.household_id, c.created, c.rowid",
             STORE_CAMERA_NAME_TAKEN,
             "UPDATE cameras SET name = ?2 WHERE id = ?1", error);
}

/*
 * Steps in C that a migration's SQL cannot say, run in its transaction just
 * before it. Found by the migration's name without its number, so that a
 * renumbered migration keeps its step.
 */
static const struct {
  const char *what;
  gboolean (*run) (HearthStore *self, GError **error);
} migration_steps[] = {
  { "unique-names.sql", rename_duplicate_names },
};

static gboolean
apply_migration_in_tx (HearthStore *self, const HearthMigration *migration,
                       int version, GError **error)
{
  g_autoptr (sqlite3_stmt) check = NULL;
  g_autofree char *bump = NULL;
  char *errmsg = NULL;
  gboolean violation;
  gint64 current;
  int rc;

  /* Another connection may have migrated since we looked. */
  if (!query_int (self, "PRAGMA user_version", &current, error))
    return FALSE;
  if (current >= version)
    return TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (migration_steps); i++) {
    if (strcmp (migration->name + strlen ("NNNN-"), migration_steps[i].what) == 0 &&
        !migration_steps[i].run (self, error)) {
      g_prefix_error (error, "migration %s failed: ", migration->name);
      return FALSE;
    }
  }

  sqlite3_set_authorizer (self->db, deny_transactions, NULL);
  rc = sqlite3_exec (self->db, migration->sql, NULL, NULL, &errmsg);
  sqlite3_set_authorizer (self->db, NULL, NULL);
  if (rc != SQLITE_OK) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE, "migration %s failed: %s",
                 migration->name, errmsg != NULL ? errmsg : sqlite3_errstr (rc));
    sqlite3_free (errmsg);
    return FALSE;
  }

  /* A migration that rebuilds a table must leave every reference intact. */
  check = store_prepare (self, "PRAGMA foreign_key_check", error);
  if (check == NULL ||
      !store_step_row (self, check, &violation, "checking foreign keys", error))
    return FALSE;
  if (violation) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE,
                 "migration %s failed: it leaves rows that break foreign keys "
                 "(table %s)", migration->name,
                 (const char *) sqlite3_column_text (check, 0));
    return FALSE;
  }

  bump = g_strdup_printf ("PRAGMA user_version = %d", version);
  return store_exec (self, bump, "setting the schema version", error);
}

static gboolean
store_migrate (HearthStore *self, const HearthMigration *migrations,
               guint n_migrations, GError **error)
{
  gint64 version;

  if (!query_int (self, "PRAGMA user_version", &version, error))
    return FALSE;
  if (version > (gint64) n_migrations) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE,
                 "schema version %" G_GINT64_FORMAT " is newer than the newest this "
                 "build knows (%u); refusing to open a store written by a newer "
                 "Hearth", version, n_migrations);
    return FALSE;
  }

  /* All pending migrations in one transaction: an upgrade that fails at any
   * step leaves the file exactly as the previous release left it. */
  if (version < (gint64) n_migrations) {
    gboolean ok = TRUE;

    if (version > 0)
      g_message ("Migrating %s from schema version %" G_GINT64_FORMAT " to %u",
                 self->path, version, n_migrations);
    if (!store_tx_begin (self, error))
      return FALSE;
    for (guint i = (guint) MAX (version, 0); ok && i < n_migrations; i++) {
      g_debug ("Applying migration %s", migrations[i].name);
      ok = apply_migration_in_tx (self, &migrations[i], (int) i + 1, error);
    }
    if (!store_tx_finish (self, ok, error))
      return FALSE;
  }

  if (!query_int (self, "PRAGMA user_version", &version, error))
    return FALSE;
  self->schema_version = (int) version;
  return TRUE;
}

/**
 * hearth_store_open_with_migrations: (see store-private.h)
 * Returns: (transfer full) (nullable): the open, migrated store; else
 *   HEARTH_ERROR_STORE naming the file and, if one failed, the migration
 */
HearthStore *
hearth_store_open_with_migrations (const char *path,
                                   const HearthMigration *migrations,
                                   guint n_migrations,
                                   GError **error)
{
  g_autoptr (HearthStore) self = NULL;
  mode_t old_umask;
  gboolean ok;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (migrations != NULL || n_migrations == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  for (guint i = 0; i < n_migrations; i++) {
    if (migration_version (migrations[i].name) != (int) i + 1) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE,
                   "migration %s: expected a name “%04u-<what>.sql”",
                   migrations[i].name, i + 1);
      return NULL;
    }
  }

  self = g_object_new (HEARTH_TYPE_STORE, NULL);
  self->path = g_strdup (path);

  /* The -wal and -shm files are created later than the database (on the first
   * WAL access, during configuration and migration): keep the umask private
   * until then. */
  old_umask = umask (077);
  ok = store_open_file (self, error) &&
       store_configure (self, error) &&
       store_migrate (self, migrations, n_migrations, error);
  umask (old_umask);

  if (!ok) {
    g_prefix_error (error, "store %s: ", path);
    return NULL;
  }
  return g_steal_pointer (&self);
}

/**
 * hearth_store_open: applies the migrations compiled in from schema/
 * Returns: (transfer full) (nullable): the store, or HEARTH_ERROR_STORE
 */
HearthStore *
hearth_store_open (const char *path, GError **error)
{
  g_autoptr (GPtrArray) sqls = g_ptr_array_new_with_free_func (g_free);
  g_autofree HearthMigration *migrations = NULL;
  g_auto (GStrv) names = NULL;
  guint n;

  g_return_val_if_fail (path != NULL, NULL);

  names = g_resource_enumerate_children (hearth_schema_get_resource (),
                                         SCHEMA_RESOURCE_PATH,
                                         G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (names == NULL) {
    g_prefix_error (error, "listing the compiled-in migrations: ");
    return NULL;
  }
  n = g_strv_length (names);
  qsort (names, n, sizeof (char *), compare_strings);

  migrations = g_new0 (HearthMigration, n);
  for (guint i = 0; i < n; i++) {
    g_autofree char *resource = g_strconcat (SCHEMA_RESOURCE_PATH, names[i], NULL);
    g_autoptr (GBytes) bytes = NULL;
    gsize size;
    const char *data;

    bytes = g_resource_lookup_data (hearth_schema_get_resource (), resource,
                                    G_RESOURCE_LOOKUP_FLAGS_NONE, error);
    if (bytes == NULL) {
      g_prefix_error (error, "reading migration %s: ", names[i]);
      return NULL;
    }
    data = g_bytes_get_data (bytes, &size);
    g_ptr_array_add (sqls, g_strndup (data, size));
    migrations[i].name = names[i];
    migrations[i].sql = g_ptr_array_index (sqls, i);
  }

  return hearth_store_open_with_migrations (path, migrations, n, error);
}

/**
 * hearth_store_get_schema_version:
 * Returns: PRAGMA user_version after migration
 */
int
hearth_store_get_schema_version (HearthStore *self)
{
  g_return_val_if_fail (HEARTH_IS_STORE (self), 0);
  return self->schema_version;
}

/* Households */

#define HOUSEHOLD_SELECT \
  "SELECT id, name, ca_cert_pem, ca_key_pem, created FROM households"

static gpointer
household_from_row (sqlite3_stmt *stmt)
{
  HearthHousehold *h = g_new0 (HearthHousehold, 1);

  h->id = sqlite3_column_int64 (stmt, 0);
  h->name = store_column_dup (stmt, 1);
  h->ca_cert_pem = store_column_dup (stmt, 2);
  h->ca_key_pem = store_column_dup (stmt, 3);
  h->created = sqlite3_column_int64 (stmt, 4);
  return h;
}

static gint64
household_add_in_tx (HearthStore *self, const char *name, const char *ca_cert_pem,
                     const char *ca_key_pem, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autofree char *detail = NULL;
  gint64 id;
  int rc;

  /* Never an id a deleted household had (schema/0004-household-ids.sql). */
  stmt = store_prepare (self,
                        "INSERT INTO households (id, name, ca_cert_pem, ca_key_pem, created) "
                        "VALUES ((SELECT last + 1 FROM household_ids), ?1, ?2, ?3, ?4)",
                        error);
  if (stmt == NULL ||
      !store_bound (self,
                    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC) |
                    sqlite3_bind_text (stmt, 2, ca_cert_pem, -1, SQLITE_STATIC) |
                    sqlite3_bind_text (stmt, 3, ca_key_pem, -1, SQLITE_STATIC) |
                    sqlite3_bind_int64 (stmt, 4, g_get_real_time () / G_USEC_PER_SEC),
                    error))
    return 0;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_CONSTRAINT_UNIQUE) {
    g_autoptr (HearthHousehold) existing =
        hearth_store_household_get_by_name (self, name, NULL);

    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
                 "a household named “%s” already exists%s",
                 existing != NULL ? existing->name : name,
                 existing != NULL && strcmp (existing->name, name) != 0
                     ? " (names that differ only in case are the same name)" : "");
    return 0;
  }
  if (rc != SQLITE_DONE) {
    store_set_error (self, error, "adding a household");
    return 0;
  }
  id = sqlite3_last_insert_rowid (self->db);

  detail = g_strdup_printf ("household %" G_GINT64_FORMAT " “%s” added", id, name);
  if (!store_audit_insert (self, "household-add", id, detail, error))
    return 0;
  return id;
}

/**
 * hearth_store_household_add: @ca_key_pem is a secret
 * Returns: the new id, or 0 with HEARTH_ERROR_INVALID, _EXISTS or _STORE
 */
gint64
hearth_store_household_add (HearthStore *self, const char *name,
                            const char *ca_cert_pem, const char *ca_key_pem,
                            GError **error)
{
  gint64 id;

  g_return_val_if_fail (HEARTH_IS_STORE (self), 0);

  if (!store_validate_name ("household name", name, error))
    return 0;
  if (ca_cert_pem == NULL || *ca_cert_pem == '\0' ||
      ca_key_pem == NULL || *ca_key_pem == '\0') {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "household “%s” needs a CA certificate and key", name);
    return 0;
  }

  if (!store_tx_begin (self, error))
    return 0;
  id = household_add_in_tx (self, name, ca_cert_pem, ca_key_pem, error);
  return store_tx_finish (self, id != 0, error) ? id : 0;
}

/**
 * hearth_store_household_get:
 * Returns: (transfer full) (nullable): the household, or HEARTH_ERROR_NOT_FOUND
 */
HearthHousehold *
hearth_store_household_get (HearthStore *self, gint64 id, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  gboolean has_row;

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  stmt = store_prepare (self, HOUSEHOLD_SELECT " WHERE id = ?1", error);
  if (stmt == NULL ||
      !store_bound (self, sqlite3_bind_int64 (stmt, 1, id), error) ||
      !store_step_row (self, stmt, &has_row, "reading a household", error))
    return NULL;
  if (!has_row) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                 "no household with id %" G_GINT64_FORMAT, id);
    return NULL;
  }
  return household_from_row (stmt);
}

/**
 * hearth_store_household_get_by_name: @name compared ignoring the case of
 *   ASCII letters
 * Returns: (transfer full) (nullable): the household, or HEARTH_ERROR_NOT_FOUND
 */
HearthHousehold *
hearth_store_household_get_by_name (HearthStore *self, const char *name,
                                    GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autoptr (GPtrArray) households = NULL;

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  if (!store_validate_name ("household name", name, error))
    return NULL;

  /* Case is ignored as the unique index on names ignores it (ASCII). */
  stmt = store_prepare (self, HOUSEHOLD_SELECT " WHERE name = ?1 COLLATE NOCASE "
                        "ORDER BY id", error);
  if (stmt == NULL ||
      !store_bound (self, sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC), error))
    return NULL;
  households = store_collect_rows (self, stmt, household_from_row,
                                   (GDestroyNotify) hearth_household_free,
                                   "reading a household", error);
  if (households == NULL)
    return NULL;
  if (households->len == 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                 "no household named “%s”", name);
    return NULL;
  }
  /* Only a store the unique index never saw can have several. */
  if (households->len > 1) {
    g_autoptr (GString) names = g_string_new (NULL);

    for (guint i = 0; i < households->len; i++)
      g_string_append_printf (names, "%s“%s”", i > 0 ? ", " : "",
                              ((HearthHousehold *) households->pdata[i])->name);
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "“%s” names several households: %s", name, names->str);
    return NULL;
  }
  return g_ptr_array_steal_index (households, 0);
}

/**
 * hearth_store_household_list:
 * Returns: (transfer full) (element-type HearthHousehold) (nullable): oldest first
 */
GPtrArray *
hearth_store_household_list (HearthStore *self, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  stmt = store_prepare (self, HOUSEHOLD_SELECT " ORDER BY id", error);
  if (stmt == NULL)
    return NULL;
  return store_collect_rows (self, stmt, household_from_row,
                             (GDestroyNotify) hearth_household_free,
                             "listing households", error);
}

static gboolean
household_delete_in_tx (HearthStore *self, const char *name, GError **error)
{
  g_autoptr (sqlite3_stmt) count = NULL;
  g_autoptr (sqlite3_stmt) del = NULL;
  g_autoptr (HearthHousehold) household = NULL;
  g_autofree char *detail = NULL;
  gboolean has_row;

  household = hearth_store_household_get_by_name (self, name, error);
  if (household == NULL)
    return FALSE;

  count = store_prepare (
      self,
      "SELECT (SELECT count(*) FROM cameras WHERE household_id = ?1), "
      "       (SELECT count(*) FROM displays WHERE household_id = ?1), "
      "       (SELECT count(*) FROM pairing_windows WHERE household_id = ?1)",
      error);
  if (count == NULL ||
      !store_bound (self, sqlite3_bind_int64 (count, 1, household->id), error) ||
      !store_step_row (self, count, &has_row, "counting a household's rows", error))
    return FALSE;
  detail = g_strdup_printf ("household %" G_GINT64_FORMAT " “%s” deleted with %"
                            G_GINT64_FORMAT " cameras, %" G_GINT64_FORMAT
                            " displays and %" G_GINT64_FORMAT " pairing windows",
                            household->id, household->name,
                            (gint64) sqlite3_column_int64 (count, 0),
                            (gint64) sqlite3_column_int64 (count, 1),
                            (gint64) sqlite3_column_int64 (count, 2));

  /* Cameras, displays and pairing windows go with it (ON DELETE CASCADE). */
  del = store_prepare (self, "DELETE FROM households WHERE id = ?1", error);
  if (del == NULL ||
      !store_bound (self, sqlite3_bind_int64 (del, 1, household->id), error) ||
      !store_step_done (self, del, "deleting a household", error))
    return FALSE;

  return store_audit_insert (self, "household-delete", household->id, detail, error);
}

/**
 * hearth_store_household_delete: with its cameras, displays and pairing
 *   windows, and a "household-delete" audit row, in one transaction
 * Returns: TRUE when deleted; else HEARTH_ERROR_NOT_FOUND or _STORE
 */
gboolean
hearth_store_household_delete (HearthStore *self, const char *name, GError **error)
{
  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);

  if (!store_validate_name ("household name", name, error))
    return FALSE;
  return store_tx_begin (self, error) &&
         store_tx_finish (self, household_delete_in_tx (self, name, error), error);
}

/* Displays */

static gboolean
fingerprint_is_valid (const char *fingerprint)
{
  if (fingerprint == NULL || strlen (fingerprint) != FINGERPRINT_LEN)
    return FALSE;
  for (const char *p = fingerprint; *p != '\0'; p++) {
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  }
  return TRUE;
}

#define DISPLAY_SELECT \
  "SELECT d.id, d.household_id, h.name, d.name, d.fingerprint, d.cert_pem, " \
  "       d.created, coalesce(d.revoked_at, 0) " \
  "FROM displays d JOIN households h ON h.id = d.household_id"

static gpointer
display_from_row (sqlite3_stmt *stmt)
{
  HearthDisplayRow *d = g_new0 (HearthDisplayRow, 1);

  d->id = sqlite3_column_int64 (stmt, 0);
  d->household_id = sqlite3_column_int64 (stmt, 1);
  d->household = store_column_dup (stmt, 2);
  d->name = store_column_dup (stmt, 3);
  d->fingerprint = store_column_dup (stmt, 4);
  d->cert_pem = store_column_dup (stmt, 5);
  d->created = sqlite3_column_int64 (stmt, 6);
  d->revoked_at = sqlite3_column_int64 (stmt, 7);
  return d;
}

/**
 * hearth_store_display_list:
 * Returns: (transfer full) (element-type HearthDisplayRow) (nullable): revoked
 *   ones included, oldest first
 */
GPtrArray *
hearth_store_display_list (HearthStore *self, gint64 household_id, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  stmt = store_prepare (self, DISPLAY_SELECT
                        " WHERE ?1 = 0 OR d.household_id = ?1 ORDER BY d.id", error);
  if (stmt == NULL || !store_bound (self, sqlite3_bind_int64 (stmt, 1, household_id), error))
    return NULL;
  return store_collect_rows (self, stmt, display_from_row,
                             (GDestroyNotify) hearth_display_row_free,
                             "listing displays", error);
}

/**
 * hearth_store_display_get:
 * Returns: (transfer full) (nullable): the display, or HEARTH_ERROR_NOT_FOUND
 */
HearthDisplayRow *
hearth_store_display_get (HearthStore *self, gint64 id, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  gboolean has_row;

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  stmt = store_prepare (self, DISPLAY_SELECT " WHERE d.id = ?1", error);
  if (stmt == NULL ||
      !store_bound (self, sqlite3_bind_int64 (stmt, 1, id), error) ||
      !store_step_row (self, stmt, &has_row, "reading a display", error))
    return NULL;
  if (!has_row) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                 "no display with id %" G_GINT64_FORMAT, id);
    return NULL;
  }
  return display_from_row (stmt);
}

/**
 * hearth_store_display_get_by_fingerprint:
 * Returns: (transfer full) (nullable): the display, revoked or not, or
 *   HEARTH_ERROR_NOT_FOUND (also for a malformed fingerprint)
 */
HearthDisplayRow *
hearth_store_display_get_by_fingerprint (HearthStore *self, const char *fingerprint,
                                         GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  gboolean has_row = FALSE;

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  if (fingerprint_is_valid (fingerprint)) {
    stmt = store_prepare (self, DISPLAY_SELECT " WHERE d.fingerprint = ?1", error);
    if (stmt == NULL ||
        !store_bound (self, sqlite3_bind_text (stmt, 1, fingerprint, -1, SQLITE_STATIC),
                      error) ||
        !store_step_row (self, stmt, &has_row, "reading a display", error))
      return NULL;
  }
  if (!has_row) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                 "no display with this certificate fingerprint");
    return NULL;
  }
  return display_from_row (stmt);
}

static gboolean
display_revoke_in_tx (HearthStore *self, gint64 id, GError **error)
{
  g_autoptr (HearthDisplayRow) display = NULL;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autofree char *detail = NULL;

  display = hearth_store_display_get (self, id, error);
  if (display == NULL)
    return FALSE;
  if (display->revoked_at != 0)
    return TRUE;  /* already revoked: keep the first time */

  stmt = store_prepare (self, "UPDATE displays SET revoked_at = ?2 WHERE id = ?1", error);
  if (stmt == NULL ||
      !store_bound (self,
                    sqlite3_bind_int64 (stmt, 1, id) |
                    sqlite3_bind_int64 (stmt, 2, g_get_real_time () / G_USEC_PER_SEC),
                    error) ||
      !store_step_done (self, stmt, "revoking a display", error))
    return FALSE;

  detail = g_strdup_printf ("display %" G_GINT64_FORMAT " “%s” revoked",
                            display->id, display->name);
  return store_audit_insert (self, "revoke", display->household_id, detail, error);
}

/**
 * hearth_store_display_revoke: sets revoked_at (unix seconds) and writes a
 *   "revoke" audit row; a second revoke keeps the first time
 * Returns: TRUE when the display is revoked; else HEARTH_ERROR_NOT_FOUND or _STORE
 */
gboolean
hearth_store_display_revoke (HearthStore *self, gint64 id, GError **error)
{
  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);

  return store_tx_begin (self, error) &&
         store_tx_finish (self, display_revoke_in_tx (self, id, error), error);
}

/* Pairing windows */

static gboolean
pairing_window_add_in_tx (HearthStore *self, gint64 household_id,
                          const guint8 *token_hash, gint64 expires_at_us,
                          gint64 *id, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autoptr (GDateTime) expiry = NULL;
  g_autofree char *expiry_text = NULL;
  g_autofree char *detail = NULL;
  int rc;

  stmt = store_prepare (self,
                        "INSERT INTO pairing_windows "
                        "  (household_id, token_hash, expires_at, uses_left, created) "
                        "VALUES (?1, ?2, ?3, 1, ?4)", error);
  if (stmt == NULL ||
      !store_bound (self,
                    sqlite3_bind_int64 (stmt, 1, household_id) |
                    sqlite3_bind_blob (stmt, 2, token_hash, TOKEN_HASH_LEN, SQLITE_STATIC) |
                    sqlite3_bind_int64 (stmt, 3, expires_at_us) |
                    sqlite3_bind_int64 (stmt, 4, g_get_real_time () / G_USEC_PER_SEC),
                    error))
    return FALSE;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                 "no household with id %" G_GINT64_FORMAT, household_id);
    return FALSE;
  }
  if (rc == SQLITE_CONSTRAINT_UNIQUE) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
                 "a pairing window with this token already exists");
    return FALSE;
  }
  if (rc != SQLITE_DONE) {
    store_set_error (self, error, "adding a pairing window");
    return FALSE;
  }
  *id = sqlite3_last_insert_rowid (self->db);

  expiry = g_date_time_new_from_unix_utc (expires_at_us / G_USEC_PER_SEC);
  expiry_text = expiry != NULL ? g_date_time_format_iso8601 (expiry) : NULL;
  detail = g_strdup_printf ("pairing window %" G_GINT64_FORMAT " opened until %s",
                            *id, expiry_text != NULL ? expiry_text : "?");
  return store_audit_insert (self, "pairing-window", household_id, detail, error);
}

/**
 * hearth_store_pairing_window_add: one use; writes a "pairing-window" audit row
 * Returns: the window id, or 0 with HEARTH_ERROR_NOT_FOUND, _EXISTS or _STORE
 */
gint64
hearth_store_pairing_window_add (HearthStore *self, gint64 household_id,
                                 const guint8 token_hash[32],
                                 gint64 expires_at_us, GError **error)
{
  gint64 id = 0;

  g_return_val_if_fail (HEARTH_IS_STORE (self), 0);
  g_return_val_if_fail (token_hash != NULL, 0);

  if (!store_tx_begin (self, error) ||
      !store_tx_finish (self, pairing_window_add_in_tx (self, household_id, token_hash,
                                                        expires_at_us, &id, error), error))
    return 0;
  return id;
}

/**
 * hearth_store_pairing_window_any_open:
 * Returns: whether a window is open at @now_us (FALSE when the store cannot be
 *   read: the pairing listener then stays closed)
 */
gboolean
hearth_store_pairing_window_any_open (HearthStore *self, gint64 now_us)
{
  return hearth_store_pairing_window_next_expiry (self, now_us) != 0;
}

/**
 * hearth_store_pairing_window_next_expiry:
 * Returns: the earliest expiry (unix µs) among the windows open at @now_us, or 0
 */
gint64
hearth_store_pairing_window_next_expiry (HearthStore *self, gint64 now_us)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autoptr (GError) error = NULL;
  gboolean has_row;

  g_return_val_if_fail (HEARTH_IS_STORE (self), 0);

  stmt = store_prepare (self,
                        "SELECT coalesce(min(expires_at), 0) FROM pairing_windows "
                        "WHERE uses_left > 0 AND expires_at > ?1", &error);
  if (stmt == NULL ||
      !store_bound (self, sqlite3_bind_int64 (stmt, 1, now_us), &error) ||
      !store_step_row (self, stmt, &has_row, "reading pairing windows", &error)) {
    g_warning ("Cannot read the pairing windows, treating them as closed: %s",
               error->message);
    return 0;
  }
  return has_row ? sqlite3_column_int64 (stmt, 0) : 0;
}

/* Constant time in the contents: no early exit on the first differing byte. */
static gboolean
hash_equal (const guint8 *a, const guint8 *b, gsize len)
{
  volatile guint8 diff = 0;

  for (gsize i = 0; i < len; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

typedef struct {
  gint64 id;
  gint64 household_id;
  gint64 expires_at;
  gint64 uses_left;
} WindowMatch;

/* Compares @token_hash with every window, so timing says nothing about which. */
static gboolean
pairing_window_find (HearthStore *self, const guint8 *token_hash,
                     WindowMatch *match, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  gboolean has_row;
  gboolean found = FALSE;

  stmt = store_prepare (self,
                        "SELECT id, household_id, token_hash, expires_at, uses_left "
                        "FROM pairing_windows", error);
  if (stmt == NULL)
    return FALSE;
  for (;;) {
    const guint8 *hash;
    gboolean equal;

    if (!store_step_row (self, stmt, &has_row, "reading pairing windows", error))
      return FALSE;
    if (!has_row)
      break;
    hash = sqlite3_column_blob (stmt, 2);
    equal = hash != NULL && sqlite3_column_bytes (stmt, 2) == TOKEN_HASH_LEN &&
            hash_equal (hash, token_hash, TOKEN_HASH_LEN);
    if (equal && !found) {
      found = TRUE;
      match->id = sqlite3_column_int64 (stmt, 0);
      match->household_id = sqlite3_column_int64 (stmt, 1);
      match->expires_at = sqlite3_column_int64 (stmt, 3);
      match->uses_left = sqlite3_column_int64 (stmt, 4);
    }
  }

  if (!found) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TOKEN_INVALID,
                 "the pairing token matches no pairing window");
    return FALSE;
  }
  return TRUE;
}

static HearthDisplayRow *
pairing_redeem_in_tx (HearthStore *self, const guint8 *token_hash, gint64 now_us,
                      const char *display_name, HearthIssueFunc issue,
                      gpointer user_data, WindowMatch *match, GError **error)
{
  g_autoptr (HearthHousehold) household = NULL;
  g_autoptr (sqlite3_stmt) insert = NULL;
  g_autoptr (sqlite3_stmt) certify = NULL;
  g_autoptr (sqlite3_stmt) spend = NULL;
  g_autoptr (GError) issue_error = NULL;
  g_autofree char *cert_pem = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *detail = NULL;
  gint64 display_id;
  int rc;

  if (!pairing_window_find (self, token_hash, match, error))
    return NULL;
  if (match->expires_at <= now_us) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TOKEN_EXPIRED,
                 "pairing window %" G_GINT64_FORMAT " has expired", match->id);
    return NULL;
  }
  if (match->uses_left <= 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TOKEN_SPENT,
                 "the token of pairing window %" G_GINT64_FORMAT " was already used",
                 match->id);
    return NULL;
  }

  household = hearth_store_household_get (self, match->household_id, error);
  if (household == NULL)
    return NULL;

  /* The row first: its id is the certificate's serial. */
  insert = store_prepare (self,
                          "INSERT INTO displays (household_id, name, created) "
                          "VALUES (?1, ?2, ?3)", error);
  if (insert == NULL ||
      !store_bound (self,
                    sqlite3_bind_int64 (insert, 1, household->id) |
                    sqlite3_bind_text (insert, 2, display_name, -1, SQLITE_STATIC) |
                    sqlite3_bind_int64 (insert, 3, now_us / G_USEC_PER_SEC),
                    error) ||
      !store_step_done (self, insert, "adding a display", error))
    return NULL;
  display_id = sqlite3_last_insert_rowid (self->db);

  if (!issue (household, display_id, user_data, &cert_pem, &fingerprint, &issue_error)) {
    if (issue_error == NULL)
      g_set_error (&issue_error, HEARTH_ERROR, HEARTH_ERROR_FAILED, "no reason given");
    g_propagate_prefixed_error (error, g_steal_pointer (&issue_error),
                                "issuing the certificate of display %" G_GINT64_FORMAT
                                ": ", display_id);
    return NULL;
  }
  if (cert_pem == NULL || *cert_pem == '\0' || !fingerprint_is_valid (fingerprint)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "issuing the certificate of display %" G_GINT64_FORMAT
                 ": no certificate or no valid fingerprint came back", display_id);
    return NULL;
  }

  certify = store_prepare (self,
                           "UPDATE displays SET cert_pem = ?2, fingerprint = ?3 "
                           "WHERE id = ?1", error);
  if (certify == NULL ||
      !store_bound (self,
                    sqlite3_bind_int64 (certify, 1, display_id) |
                    sqlite3_bind_text (certify, 2, cert_pem, -1, SQLITE_STATIC) |
                    sqlite3_bind_text (certify, 3, fingerprint, -1, SQLITE_STATIC),
                    error))
    return NULL;
  rc = sqlite3_step (certify);
  if (rc == SQLITE_CONSTRAINT_UNIQUE) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
                 "another display already has certificate fingerprint %s", fingerprint);
    return NULL;
  }
  if (rc != SQLITE_DONE) {
    store_set_error (self, error, "storing a display certificate");
    return NULL;
  }

  spend = store_prepare (self,
                         "UPDATE pairing_windows SET uses_left = uses_left - 1 "
                         "WHERE id = ?1 AND uses_left > 0", error);
  if (spend == NULL ||
      !store_bound (self, sqlite3_bind_int64 (spend, 1, match->id), error) ||
      !store_step_done (self, spend, "spending a pairing token", error))
    return NULL;
  if (sqlite3_changes (self->db) != 1) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TOKEN_SPENT,
                 "the token of pairing window %" G_GINT64_FORMAT " was already used",
                 match->id);
    return NULL;
  }

  detail = g_strdup_printf ("display %" G_GINT64_FORMAT " “%s” paired through "
                            "pairing window %" G_GINT64_FORMAT,
                            display_id, display_name, match->id);
  if (!store_audit_insert (self, "pairing", household->id, detail, error))
    return NULL;

  return hearth_store_display_get (self, display_id, error);
}

/**
 * hearth_store_pairing_redeem: (see store.h) @issue is (scope call)
 * Returns: (transfer full) (nullable): the new display; else
 *   HEARTH_ERROR_TOKEN_INVALID, _TOKEN_EXPIRED, _TOKEN_SPENT, _INVALID (name),
 *   @issue's error or _STORE, and nothing is changed
 */
HearthDisplayRow *
hearth_store_pairing_redeem (HearthStore *self,
                             const guint8 token_hash[32],
                             gint64 now_us,
                             const char *display_name,
                             HearthIssueFunc issue,
                             gpointer user_data,
                             gint64 *window_id,
                             GError **error)
{
  g_autoptr (HearthDisplayRow) display = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GError) audit_error = NULL;
  WindowMatch match = { 0, };

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);
  g_return_val_if_fail (token_hash != NULL, NULL);
  g_return_val_if_fail (issue != NULL, NULL);

  if (store_validate_name ("display name", display_name, &local_error) &&
      store_tx_begin (self, &local_error)) {
    display = pairing_redeem_in_tx (self, token_hash, now_us, display_name, issue,
                                    user_data, &match, &local_error);
    if (!store_tx_finish (self, display != NULL, &local_error))
      g_clear_pointer (&display, hearth_display_row_free);
  }

  if (window_id != NULL)
    *window_id = match.id;
  if (display != NULL)
    return g_steal_pointer (&display);

  if (!store_audit_insert (self, "pairing-refused", match.household_id,
                           local_error->message, &audit_error))
    g_warning ("Cannot audit a refused pairing, ignoring: %s", audit_error->message);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

/* Audit log */

/* Audit rows: written inside the caller's transaction when there is one. */
gboolean
store_audit_insert (HearthStore *self, const char *kind, gint64 household_id,
                    const char *detail, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autofree char *valid_detail = g_utf8_make_valid (detail != NULL ? detail : "", -1);

  stmt = store_prepare (self,
                        "INSERT INTO audit (at, kind, household_id, detail) "
                        "VALUES (?1, ?2, ?3, ?4)", error);
  if (stmt == NULL)
    return FALSE;
  if (!store_bound (self,
                    sqlite3_bind_int64 (stmt, 1, g_get_real_time ()) |
                    sqlite3_bind_text (stmt, 2, kind, -1, SQLITE_STATIC) |
                    (household_id != 0 ? sqlite3_bind_int64 (stmt, 3, household_id)
                                       : sqlite3_bind_null (stmt, 3)) |
                    sqlite3_bind_text (stmt, 4, valid_detail, -1, SQLITE_STATIC),
                    error))
    return FALSE;
  return store_step_done (self, stmt, "writing an audit row", error);
}

/**
 * hearth_store_audit_add: @kind is 1..64 bytes of clean text; @detail
 *   (nullable) is for people, never a secret, and stored as valid UTF-8
 * Returns: TRUE when written; else HEARTH_ERROR_INVALID or _STORE
 */
gboolean
hearth_store_audit_add (HearthStore *self, const char *kind, gint64 household_id,
                        const char *detail, GError **error)
{
  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);

  if (!hearth_store_validate_text ("audit kind", kind, KIND_MAX_BYTES, error))
    return FALSE;
  return store_audit_insert (self, kind, household_id, detail, error);
}

static gpointer
audit_from_row (sqlite3_stmt *stmt)
{
  HearthAuditRow *a = g_new0 (HearthAuditRow, 1);

  a->id = sqlite3_column_int64 (stmt, 0);
  a->at = sqlite3_column_int64 (stmt, 1);
  a->kind = store_column_dup (stmt, 2);
  a->household_id = sqlite3_column_int64 (stmt, 3);
  a->detail = store_column_dup (stmt, 4);
  return a;
}

/**
 * hearth_store_audit_list:
 * Returns: (transfer full) (element-type HearthAuditRow) (nullable): the rows
 *   with at >= @since_us, oldest first
 */
GPtrArray *
hearth_store_audit_list (HearthStore *self, gint64 since_us, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  stmt = store_prepare (self,
                        "SELECT id, at, kind, coalesce(household_id, 0), detail FROM audit "
                        "WHERE at >= ?1 ORDER BY at, id", error);
  if (stmt == NULL || !store_bound (self, sqlite3_bind_int64 (stmt, 1, since_us), error))
    return NULL;
  return store_collect_rows (self, stmt, audit_from_row,
                             (GDestroyNotify) hearth_audit_row_free,
                             "listing audit rows", error);
}
