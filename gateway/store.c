/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthStore: the gateway's persistent state in one SQLite file — households
 * (with their CA), cameras, displays, pairing windows and the audit log.
 *
 * The daemon opens one store at start on the main context; hearthctl goes
 * through the daemon. This is the only file that includes sqlite3.h.
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

#include "error.h"
#include "netaddr.h"
#include "hearth-schema.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

/* STRICT tables (schema/0001) and SQLITE_OPEN_EXRESCODE. */
#if SQLITE_VERSION_NUMBER < 3037000
#error "Hearth's store needs SQLite 3.37 or newer"
#endif

#define SCHEMA_RESOURCE_PATH "/org/hearth/schema/"
#define BUSY_TIMEOUT_MS 5000
#define NAME_MAX_BYTES 64
#define URL_MAX_BYTES 2048
#define KIND_MAX_BYTES 64
#define TOKEN_HASH_LEN 32
#define FINGERPRINT_LEN 64

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

struct _HearthStore {
  GObject parent_instance;

  sqlite3 *db;
  char *path;
  int schema_version;
};

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
hearth_camera_row_free (HearthCameraRow *c)
{
  if (c == NULL)
    return;
  g_free (c->id);
  g_free (c->household);
  g_free (c->name);
  g_free (c->url);
  g_free (c->plugin);
  hearth_camera_evidence_clear (&c->evidence);
  g_free (c->quarantine_reason);
  g_free (c);
}

void
hearth_camera_evidence_clear (HearthCameraEvidence *e)
{
  g_clear_pointer (&e->mdns_type, g_free);
  g_clear_pointer (&e->mdns_name, g_free);
  g_clear_pointer (&e->txt_id, g_free);
  g_clear_pointer (&e->txt_serial, g_free);
  g_clear_pointer (&e->txt_mac, g_free);
  g_clear_pointer (&e->neighbour_mac, g_free);
  g_clear_pointer (&e->cert_fp, g_free);
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

/* SQLite helpers */

static void
store_set_error (HearthStore *self, GError **error, const char *what)
{
  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE, "%s: %s", what,
               sqlite3_errmsg (self->db));
}

static sqlite3_stmt *
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
static gboolean
store_bound (HearthStore *self, int rc, GError **error)
{
  if (rc == SQLITE_OK)
    return TRUE;
  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_STORE,
               "binding statement parameters: %s", sqlite3_errmsg (self->db));
  return FALSE;
}

/* Steps a statement that returns no rows. */
static gboolean
store_step_done (HearthStore *self, sqlite3_stmt *stmt, const char *what, GError **error)
{
  if (sqlite3_step (stmt) == SQLITE_DONE)
    return TRUE;
  store_set_error (self, error, what);
  return FALSE;
}

/* Steps to the next row: TRUE with *has_row set, or FALSE on error. */
static gboolean
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

static gboolean
store_exec (HearthStore *self, const char *sql, const char *what, GError **error)
{
  if (sqlite3_exec (self->db, sql, NULL, NULL, NULL) == SQLITE_OK)
    return TRUE;
  store_set_error (self, error, what);
  return FALSE;
}

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

static char *
store_column_dup (sqlite3_stmt *stmt, int col)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, col));
}

/* Steps @stmt to its end, one element per row. */
static GPtrArray *
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

static gboolean
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
static gboolean
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
static gboolean
store_validate_text (const char *what, const char *value, gsize max_bytes, GError **error)
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

static gboolean
store_validate_name (const char *what, const char *name, GError **error)
{
  return store_validate_text (what, name, NAME_MAX_BYTES, error);
}

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

/* Audit rows: written inside the caller's transaction when there is one. */
static gboolean
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

/* Opening and migrations */

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

  stmt = store_prepare (self,
                        "INSERT INTO households (name, ca_cert_pem, ca_key_pem, created) "
                        "VALUES (?1, ?2, ?3, ?4)", error);
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
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
                 "a household named “%s” already exists", name);
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
 * hearth_store_household_get_by_name:
 * Returns: (transfer full) (nullable): the household, or HEARTH_ERROR_NOT_FOUND
 */
HearthHousehold *
hearth_store_household_get_by_name (HearthStore *self, const char *name,
                                    GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  gboolean has_row;

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  if (!store_validate_name ("household name", name, error))
    return NULL;

  stmt = store_prepare (self, HOUSEHOLD_SELECT " WHERE name = ?1", error);
  if (stmt == NULL ||
      !store_bound (self, sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC), error) ||
      !store_step_row (self, stmt, &has_row, "reading a household", error))
    return NULL;
  if (!has_row) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                 "no household named “%s”", name);
    return NULL;
  }
  return household_from_row (stmt);
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

/* Cameras */

#define CAMERA_SELECT \
  "SELECT c.id, c.household_id, h.name, c.name, c.url, c.created, c.plugin, " \
  "c.mdns_type, c.mdns_name, c.txt_id, c.txt_serial, c.txt_mac, " \
  "c.neighbour_mac, c.cert_fp, c.quarantined_at, c.quarantine_reason, " \
  "c.password IS NOT NULL OR c.username IS NOT NULL " \
  "FROM cameras c JOIN households h ON h.id = c.household_id"

static gpointer
camera_from_row (sqlite3_stmt *stmt)
{
  HearthCameraRow *c = g_new0 (HearthCameraRow, 1);

  c->id = store_column_dup (stmt, 0);
  c->household_id = sqlite3_column_int64 (stmt, 1);
  c->household = store_column_dup (stmt, 2);
  c->name = store_column_dup (stmt, 3);
  c->url = store_column_dup (stmt, 4);
  c->created = sqlite3_column_int64 (stmt, 5);
  c->plugin = store_column_dup (stmt, 6);
  c->evidence.mdns_type = store_column_dup (stmt, 7);
  c->evidence.mdns_name = store_column_dup (stmt, 8);
  c->evidence.txt_id = store_column_dup (stmt, 9);
  c->evidence.txt_serial = store_column_dup (stmt, 10);
  c->evidence.txt_mac = store_column_dup (stmt, 11);
  c->evidence.neighbour_mac = store_column_dup (stmt, 12);
  c->evidence.cert_fp = store_column_dup (stmt, 13);
  c->quarantined_at = sqlite3_column_int64 (stmt, 14);
  c->quarantine_reason = store_column_dup (stmt, 15);
  c->has_credentials = sqlite3_column_int (stmt, 16) != 0;
  return c;
}

/* Evidence comes from the network: printable ASCII, bounded. */
static gboolean
validate_evidence (const HearthCameraEvidence *e, GError **error)
{
  const struct { const char *what; const char *value; gsize max; } fields[] = {
    { "mDNS service type", e->mdns_type, 64 },
    { "TXT id", e->txt_id, 128 },
    { "TXT serial", e->txt_serial, 128 },
    { "TXT MAC", e->txt_mac, 17 },
    { "neighbour MAC", e->neighbour_mac, 17 },
    { "certificate fingerprint", e->cert_fp, 64 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++) {
    const char *v = fields[i].value;

    if (v == NULL)
      continue;
    if (*v == '\0' || strlen (v) > fields[i].max) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "%s is empty or too long", fields[i].what);
      return FALSE;
    }
    for (const char *p = v; *p; p++)
      if (*p < 0x21 || *p > 0x7e) {
        g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                     "%s holds characters other than printable ASCII",
                     fields[i].what);
        return FALSE;
      }
  }
  return e->mdns_name == NULL ||
         store_validate_text ("mDNS instance name", e->mdns_name, 63, error);
}

static gboolean
camera_add_in_tx (HearthStore *self, const char *id, gint64 household_id,
                  const char *name, const char *url, const char *plugin,
                  const HearthCameraEvidence *e, const char *username,
                  const char *password, GError **error)
{
  static const HearthCameraEvidence none = { NULL };
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autofree char *detail = NULL;
  int rc;

  if (e == NULL)
    e = &none;
  stmt = store_prepare (self,
                        "INSERT INTO cameras (id, household_id, name, url, created, plugin, "
                        "mdns_type, mdns_name, txt_id, txt_serial, txt_mac, neighbour_mac, "
                        "cert_fp, username, password) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                        "?14, ?15)", error);
  if (stmt == NULL ||
      !store_bound (self,
                    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC) |
                    sqlite3_bind_int64 (stmt, 2, household_id) |
                    sqlite3_bind_text (stmt, 3, name, -1, SQLITE_STATIC) |
                    sqlite3_bind_text (stmt, 4, url, -1, SQLITE_STATIC) |
                    sqlite3_bind_int64 (stmt, 5, g_get_real_time () / G_USEC_PER_SEC) |
                    sqlite3_bind_text (stmt, 6, plugin, -1, SQLITE_STATIC) |
                    sqlite3_bind_text (stmt, 7, e->mdns_type, -1, SQLITE_STATIC) |
                    sqlite3_bind_text (stmt, 8, e->mdns_name, -1, SQLITE_STATIC) |
                    sqlite3_bind_text (stmt, 9, e->txt_id, -1, SQLITE_STATIC) |
                    sqlite3_bind_text (stmt, 10, e->txt_serial, -1, SQLITE_STATIC) |
                    sqlite3_bind_text (stmt, 11, e->txt_mac, -1, SQLITE_STATIC) |
                    sqlite3_bind_text (stmt, 12, e->neighbour_mac, -1, SQLITE_STATIC) |
                    sqlite3_bind_text (stmt, 13, e->cert_fp, -1, SQLITE_STATIC) |
                    sqlite3_bind_text (stmt, 14, username, -1, SQLITE_STATIC) |
                    sqlite3_bind_text (stmt, 15, password, -1, SQLITE_STATIC),
                    error))
    return FALSE;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                 "no household with id %" G_GINT64_FORMAT, household_id);
    return FALSE;
  }
  if (rc != SQLITE_DONE) {
    store_set_error (self, error, "adding a camera");
    return FALSE;
  }

  if (e->mdns_name != NULL)
    detail = g_strdup_printf ("camera %s “%s” adopted (%s “%s”)", id, name,
                              e->mdns_type ? e->mdns_type : "mDNS", e->mdns_name);
  else
    detail = g_strdup_printf ("camera %s “%s” added", id, name);
  return store_audit_insert (self, e->mdns_name != NULL ? "camera-adopt" : "camera-add",
                             household_id, detail, error);
}

/* Credentials: 1..256 bytes of UTF-8 without control characters. */
static gboolean
validate_credentials (const char *username, const char *password, GError **error)
{
  return (username == NULL ||
          store_validate_text ("camera user name", username, 256, error)) &&
         (password == NULL ||
          store_validate_text ("camera password", password, 256, error));
}

/**
 * hearth_store_camera_add: @url must be clean text of at most 2048 bytes; its
 *   scheme and address are the caller's to check. Writes a "camera-add" row.
 * Returns: (transfer full) (nullable): the new UUID; else HEARTH_ERROR_INVALID,
 *   _NOT_FOUND (no such household) or _STORE
 */
char *
hearth_store_camera_add (HearthStore *self, gint64 household_id,
                         const char *name, const char *url, GError **error)
{
  g_autofree char *id = NULL;

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  return hearth_store_camera_adopt (self, household_id, name, url, NULL, NULL,
                                    NULL, NULL, error);
}

/**
 * hearth_store_camera_adopt: camera_add with the driver's name, identity
 *   evidence and credentials (all nullable), audited as "camera-adopt" when
 *   the evidence names an mDNS service
 * Returns: (transfer full) (nullable): the new UUID; else HEARTH_ERROR_INVALID,
 *   _NOT_FOUND (no such household) or _STORE
 */
char *
hearth_store_camera_adopt (HearthStore *self, gint64 household_id,
                           const char *name, const char *url, const char *plugin,
                           const HearthCameraEvidence *evidence,
                           const char *username, const char *password,
                           GError **error)
{
  g_autofree char *id = NULL;

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  if (!store_validate_name ("camera name", name, error) ||
      !store_validate_text ("camera URL", url, URL_MAX_BYTES, error) ||
      (plugin != NULL && !store_validate_name ("camera driver", plugin, error)) ||
      (evidence != NULL && !validate_evidence (evidence, error)) ||
      !validate_credentials (username, password, error))
    return NULL;

  id = g_uuid_string_random ();
  if (!store_tx_begin (self, error) ||
      !store_tx_finish (self, camera_add_in_tx (self, id, household_id, name, url, plugin,
                                                evidence, username, password, error),
                        error))
    return NULL;
  return g_steal_pointer (&id);
}

static void
set_no_camera_error (const char *id, GError **error)
{
  if (id != NULL && g_uuid_string_is_valid (id))
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND, "no camera %s", id);
  else
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                 "no such camera (the id is not a UUID)");
}

/**
 * hearth_store_camera_get:
 * Returns: (transfer full) (nullable): the camera, or HEARTH_ERROR_NOT_FOUND
 */
HearthCameraRow *
hearth_store_camera_get (HearthStore *self, const char *id, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  gboolean has_row;

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  if (id == NULL || !g_uuid_string_is_valid (id)) {
    set_no_camera_error (id, error);
    return NULL;
  }

  stmt = store_prepare (self, CAMERA_SELECT " WHERE c.id = ?1", error);
  if (stmt == NULL ||
      !store_bound (self, sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC), error) ||
      !store_step_row (self, stmt, &has_row, "reading a camera", error))
    return NULL;
  if (!has_row) {
    set_no_camera_error (id, error);
    return NULL;
  }
  return camera_from_row (stmt);
}

/**
 * hearth_store_camera_list:
 * Returns: (transfer full) (element-type HearthCameraRow) (nullable): in the
 *   order they were added
 */
GPtrArray *
hearth_store_camera_list (HearthStore *self, gint64 household_id, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  stmt = store_prepare (self, CAMERA_SELECT
                        " WHERE ?1 = 0 OR c.household_id = ?1 ORDER BY c.rowid", error);
  if (stmt == NULL || !store_bound (self, sqlite3_bind_int64 (stmt, 1, household_id), error))
    return NULL;
  return store_collect_rows (self, stmt, camera_from_row,
                             (GDestroyNotify) hearth_camera_row_free,
                             "listing cameras", error);
}

static gboolean
camera_remove_in_tx (HearthStore *self, const char *id, GError **error)
{
  g_autoptr (HearthCameraRow) camera = NULL;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autofree char *detail = NULL;

  camera = hearth_store_camera_get (self, id, error);
  if (camera == NULL)
    return FALSE;

  stmt = store_prepare (self, "DELETE FROM cameras WHERE id = ?1", error);
  if (stmt == NULL ||
      !store_bound (self, sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC), error) ||
      !store_step_done (self, stmt, "removing a camera", error))
    return FALSE;

  detail = g_strdup_printf ("camera %s “%s” removed", camera->id, camera->name);
  return store_audit_insert (self, "camera-remove", camera->household_id, detail, error);
}

/**
 * hearth_store_camera_remove: with a "camera-remove" audit row, in one transaction
 * Returns: TRUE when removed; else HEARTH_ERROR_NOT_FOUND or _STORE
 */
gboolean
hearth_store_camera_remove (HearthStore *self, const char *id, GError **error)
{
  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);

  return store_tx_begin (self, error) &&
         store_tx_finish (self, camera_remove_in_tx (self, id, error), error);
}

static gboolean
camera_move_in_tx (HearthStore *self, const char *id, gint64 household_id,
                   GError **error)
{
  g_autoptr (HearthCameraRow) camera = NULL;
  g_autoptr (HearthHousehold) to = NULL;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autofree char *detail = NULL;

  camera = hearth_store_camera_get (self, id, error);
  if (camera == NULL)
    return FALSE;
  to = hearth_store_household_get (self, household_id, error);
  if (to == NULL)
    return FALSE;

  stmt = store_prepare (self, "UPDATE cameras SET household_id = ?2 WHERE id = ?1", error);
  if (stmt == NULL ||
      !store_bound (self, sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC) |
                          sqlite3_bind_int64 (stmt, 2, household_id), error) ||
      !store_step_done (self, stmt, "moving a camera", error))
    return FALSE;

  detail = g_strdup_printf ("camera %s “%s” moved from household “%s” to “%s”",
                            camera->id, camera->name, camera->household, to->name);
  /* Both households see the move in their audit trail. */
  return store_audit_insert (self, "camera-move", camera->household_id, detail, error) &&
         store_audit_insert (self, "camera-move", household_id, detail, error);
}

/**
 * hearth_store_camera_move: to another household, with "camera-move" audit
 *   rows for both, in one transaction
 * Returns: TRUE when moved; else HEARTH_ERROR_NOT_FOUND or _STORE
 */
gboolean
hearth_store_camera_move (HearthStore *self, const char *id, gint64 household_id,
                          GError **error)
{
  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);

  return store_tx_begin (self, error) &&
         store_tx_finish (self, camera_move_in_tx (self, id, household_id, error), error);
}

/*
 * One UPDATE of camera @id's row (@sql binds ?1 = id, then @params in order,
 * NULL binding NULL) and one audit row of @kind whose detail is "camera ID
 * “NAME” " + @what, in one transaction.
 */
static gboolean
camera_update (HearthStore *self, const char *id, const char *sql,
               const char *const *params, gsize n_params, const char *kind,
               const char *what, GError **error)
{
  g_autoptr (HearthCameraRow) camera = NULL;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autofree char *detail = NULL;
  int rc;
  gboolean ok;

  if (!store_tx_begin (self, error))
    return FALSE;
  camera = hearth_store_camera_get (self, id, error);
  ok = camera != NULL && (stmt = store_prepare (self, sql, error)) != NULL;
  rc = ok ? sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC) : SQLITE_OK;
  for (gsize i = 0; ok && i < n_params; i++)
    rc |= sqlite3_bind_text (stmt, (int) i + 2, params[i], -1, SQLITE_STATIC);
  ok = ok && store_bound (self, rc, error) &&
       store_step_done (self, stmt, "updating a camera", error);
  /* A WHERE that matched nothing (e.g. already quarantined) changes nothing
   * and is not audited. */
  if (ok && sqlite3_changes (self->db) > 0) {
    detail = g_strdup_printf ("camera %s “%s” %s", camera->id, camera->name, what);
    ok = store_audit_insert (self, kind, camera->household_id, detail, error);
  }
  return store_tx_finish (self, ok, error);
}

/**
 * hearth_store_camera_readopt: new URL and evidence, quarantine lifted
 * Returns: TRUE; else HEARTH_ERROR_INVALID, _NOT_FOUND or _STORE
 */
gboolean
hearth_store_camera_readopt (HearthStore *self, const char *id, const char *url,
                             const HearthCameraEvidence *e, GError **error)
{
  const char *params[] = { url, e->mdns_type, e->mdns_name, e->txt_id, e->txt_serial,
                           e->txt_mac, e->neighbour_mac, e->cert_fp };

  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);

  if (!store_validate_text ("camera URL", url, URL_MAX_BYTES, error) ||
      !validate_evidence (e, error))
    return FALSE;
  return camera_update (self, id,
                        "UPDATE cameras SET url = ?2, mdns_type = ?3, mdns_name = ?4, "
                        "txt_id = ?5, txt_serial = ?6, txt_mac = ?7, neighbour_mac = ?8, "
                        "cert_fp = ?9, quarantined_at = NULL, quarantine_reason = NULL "
                        "WHERE id = ?1",
                        params, G_N_ELEMENTS (params), "camera-adopt",
                        "adopted again with the evidence seen now", error);
}

/**
 * hearth_store_camera_follow: the same camera at a new address
 * Returns: TRUE; else HEARTH_ERROR_INVALID, _NOT_FOUND or _STORE
 */
gboolean
hearth_store_camera_follow (HearthStore *self, const char *id, const char *url,
                            GError **error)
{
  const char *params[] = { url };
  g_autofree char *redacted = NULL;
  g_autofree char *what = NULL;

  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);

  if (!store_validate_text ("camera URL", url, URL_MAX_BYTES, error))
    return FALSE;
  redacted = hearth_url_redact (url);
  what = g_strdup_printf ("followed to %s", redacted);
  return camera_update (self, id, "UPDATE cameras SET url = ?2 WHERE id = ?1",
                        params, 1, "camera-follow", what, error);
}

/**
 * hearth_store_camera_quarantine: nothing of it ingested or served until it
 *   is adopted again; a quarantined camera keeps its first reason
 * Returns: TRUE; else HEARTH_ERROR_INVALID, _NOT_FOUND or _STORE
 */
gboolean
hearth_store_camera_quarantine (HearthStore *self, const char *id,
                                const char *reason, GError **error)
{
  const char *params[] = { reason };
  g_autofree char *what = NULL;

  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);

  if (!store_validate_text ("quarantine reason", reason, 512, error))
    return FALSE;
  what = g_strdup_printf ("quarantined: %s", reason);
  return camera_update (self, id,
                        "UPDATE cameras SET quarantined_at = CAST (strftime ('%s', 'now') AS INTEGER), "
                        "quarantine_reason = ?2 WHERE id = ?1 AND quarantined_at IS NULL",
                        params, 1, "camera-quarantine", what, error);
}

/**
 * hearth_store_camera_add_evidence: sets only fields still NULL
 * Returns: TRUE; else HEARTH_ERROR_INVALID, _NOT_FOUND or _STORE
 */
gboolean
hearth_store_camera_add_evidence (HearthStore *self, const char *id,
                                  const char *neighbour_mac, const char *cert_fp,
                                  GError **error)
{
  const HearthCameraEvidence e = { .neighbour_mac = (char *) neighbour_mac,
                                   .cert_fp = (char *) cert_fp };
  const char *params[] = { neighbour_mac, cert_fp };

  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);

  if (!validate_evidence (&e, error))
    return FALSE;
  return camera_update (self, id,
                        "UPDATE cameras SET neighbour_mac = coalesce (neighbour_mac, ?2), "
                        "cert_fp = coalesce (cert_fp, ?3) WHERE id = ?1",
                        params, G_N_ELEMENTS (params), "camera-evidence",
                        "identity evidence recorded on first connection", error);
}

/**
 * hearth_store_camera_get_credentials: secrets; the caller wipes them
 * Returns: TRUE with *@username and *@password set (each may be NULL); else
 *   HEARTH_ERROR_NOT_FOUND or _STORE
 */
gboolean
hearth_store_camera_get_credentials (HearthStore *self, const char *id,
                                     char **username, char **password,
                                     GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  gboolean has_row;

  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);

  *username = *password = NULL;
  stmt = store_prepare (self, "SELECT username, password FROM cameras WHERE id = ?1", error);
  if (stmt == NULL ||
      !store_bound (self, sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC), error) ||
      !store_step_row (self, stmt, &has_row, "reading camera credentials", error))
    return FALSE;
  if (!has_row) {
    set_no_camera_error (id, error);
    return FALSE;
  }
  *username = store_column_dup (stmt, 0);
  *password = store_column_dup (stmt, 1);
  return TRUE;
}

/* Displays */

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

  if (!store_validate_text ("audit kind", kind, KIND_MAX_BYTES, error))
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
