/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthStore's camera rows: adding and adopting cameras (with the identity
 * evidence discovery saw and their credentials), reading and listing them,
 * removing them, moving them to another household, and the updates that
 * follow a camera to a new address, adopt it again or quarantine it. Every
 * change writes its audit row in the same transaction.
 *
 * Called by the camera registry (cameras.c), the control commands (daemon.c)
 * and the access checks (access.c); store.c says how the store works as a
 * whole.
 */
#define G_LOG_DOMAIN "hearth-store-cameras"

#include "store-db.h"

#include "error.h"
#include "netaddr.h"

#include <string.h>

#define URL_MAX_BYTES 2048

/* Row types */

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
  g_free (c->service_url);
  g_free (c->sub_url);
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

/* Cameras */

#define CAMERA_SELECT \
  "SELECT c.id, c.household_id, h.name, c.name, c.url, c.created, c.plugin, " \
  "c.mdns_type, c.mdns_name, c.txt_id, c.txt_serial, c.txt_mac, " \
  "c.neighbour_mac, c.cert_fp, c.quarantined_at, c.quarantine_reason, " \
  "c.password IS NOT NULL OR c.username IS NOT NULL, c.service_url, c.sub_url " \
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
  c->service_url = store_column_dup (stmt, 17);
  c->sub_url = store_column_dup (stmt, 18);
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
         hearth_store_validate_text ("mDNS instance name", e->mdns_name, 63, error);
}

/* After a unique-index refusal: names the camera that has the name. */
static void
set_camera_name_taken_error (HearthStore *self, gint64 household_id, const char *name,
                             GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  gboolean has_row = FALSE;

  stmt = store_prepare (self,
                        "SELECT c.name, h.name FROM cameras c "
                        "JOIN households h ON h.id = c.household_id "
                        "WHERE c.household_id = ?1 AND c.name = ?2 COLLATE NOCASE",
                        NULL);
  if (stmt != NULL &&
      store_bound (self, sqlite3_bind_int64 (stmt, 1, household_id) |
                         sqlite3_bind_text (stmt, 2, name, -1, SQLITE_STATIC), NULL))
    store_step_row (self, stmt, &has_row, "reading a camera", NULL);
  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
               "a camera named “%s” already exists in household “%s”%s",
               has_row ? (const char *) sqlite3_column_text (stmt, 0) : name,
               has_row ? (const char *) sqlite3_column_text (stmt, 1) : "?",
               has_row && strcmp ((const char *) sqlite3_column_text (stmt, 0), name) != 0
                   ? " (names that differ only in case are the same name)" : "");
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
  if (rc == SQLITE_CONSTRAINT_UNIQUE) {
    set_camera_name_taken_error (self, household_id, name, error);
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
          hearth_store_validate_text ("camera user name", username, 256, error)) &&
         (password == NULL ||
          hearth_store_validate_text ("camera password", password, 256, error));
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
  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  return hearth_store_camera_adopt (self, household_id, name, url, NULL, NULL, NULL,
                                    NULL, NULL, NULL, error);
}

/* Sets what a resolution gave besides the URL, inside a transaction. */
static gboolean
camera_set_streams_in_tx (HearthStore *self, const char *id, const char *service_url,
                          const char *sub_url, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt =
    store_prepare (self, "UPDATE cameras SET service_url = ?2, sub_url = ?3 WHERE id = ?1",
                   error);

  return stmt != NULL &&
         store_bound (self,
                      sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC) |
                      sqlite3_bind_text (stmt, 2, service_url, -1, SQLITE_STATIC) |
                      sqlite3_bind_text (stmt, 3, sub_url, -1, SQLITE_STATIC), error) &&
         store_step_done (self, stmt, "updating a camera", error);
}

static gboolean
validate_streams (const char *service_url, const char *sub_url, GError **error)
{
  return (service_url == NULL ||
          hearth_store_validate_text ("camera service URL", service_url, URL_MAX_BYTES,
                                      error)) &&
         (sub_url == NULL ||
          hearth_store_validate_text ("camera sub-stream URL", sub_url, URL_MAX_BYTES, error));
}

/**
 * hearth_store_camera_adopt: camera_add with the driver's name, identity
 *   evidence and credentials (all nullable), audited as "camera-adopt" when
 *   the evidence names an mDNS service; for a camera whose plugin resolved
 *   its URL (ONVIF) also the sub stream and the device service it was
 *   resolved with (nullable), in one transaction
 * Returns: (transfer full) (nullable): the new UUID; else HEARTH_ERROR_INVALID,
 *   _NOT_FOUND (no such household) or _STORE
 */
char *
hearth_store_camera_adopt (HearthStore *self, gint64 household_id,
                           const char *name, const char *url, const char *sub_url,
                           const char *service_url, const char *plugin,
                           const HearthCameraEvidence *evidence,
                           const char *username, const char *password,
                           GError **error)
{
  g_autofree char *id = NULL;

  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  if (!store_validate_name ("camera name", name, error) ||
      !hearth_store_validate_text ("camera URL", url, URL_MAX_BYTES, error) ||
      !validate_streams (service_url, sub_url, error) ||
      (plugin != NULL && !store_validate_name ("camera driver", plugin, error)) ||
      (evidence != NULL && !validate_evidence (evidence, error)) ||
      !validate_credentials (username, password, error))
    return NULL;

  id = g_uuid_string_random ();
  if (!store_tx_begin (self, error) ||
      !store_tx_finish (self,
                        camera_add_in_tx (self, id, household_id, name, url, plugin,
                                          evidence, username, password, error) &&
                        camera_set_streams_in_tx (self, id, service_url, sub_url, error),
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
                   const char *name, GError **error)
{
  g_autoptr (HearthCameraRow) camera = NULL;
  g_autoptr (HearthHousehold) to = NULL;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autofree char *detail = NULL;
  g_autofree char *renamed = NULL;
  int rc;

  camera = hearth_store_camera_get (self, id, error);
  if (camera == NULL)
    return FALSE;
  to = hearth_store_household_get (self, household_id, error);
  if (to == NULL)
    return FALSE;

  stmt = store_prepare (self,
                        "UPDATE cameras SET household_id = ?2, name = coalesce (?3, name) "
                        "WHERE id = ?1", error);
  if (stmt == NULL ||
      !store_bound (self, sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC) |
                          sqlite3_bind_int64 (stmt, 2, household_id) |
                          sqlite3_bind_text (stmt, 3, name, -1, SQLITE_STATIC), error))
    return FALSE;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_CONSTRAINT_UNIQUE) {
    set_camera_name_taken_error (self, household_id, name ? name : camera->name, error);
    return FALSE;
  }
  if (rc != SQLITE_DONE) {
    store_set_error (self, error, "moving a camera");
    return FALSE;
  }

  if (name != NULL && strcmp (name, camera->name) != 0)
    renamed = g_strdup_printf (" as “%s”", name);
  detail = g_strdup_printf ("camera %s “%s” moved from household “%s” to “%s”%s",
                            camera->id, camera->name, camera->household, to->name,
                            renamed ? renamed : "");
  /* Both households see the move in their audit trail. */
  return store_audit_insert (self, "camera-move", camera->household_id, detail, error) &&
         store_audit_insert (self, "camera-move", household_id, detail, error);
}

/**
 * hearth_store_camera_move: to another household (or its own), named @name
 *   there (nullable: its name), with "camera-move" audit rows for both, in
 *   one transaction
 * Returns: TRUE when moved; else HEARTH_ERROR_EXISTS (a camera of that
 *   household has the name, ignoring case), _INVALID, _NOT_FOUND or _STORE
 */
gboolean
hearth_store_camera_move (HearthStore *self, const char *id, gint64 household_id,
                          const char *name, GError **error)
{
  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);

  if (name != NULL && !store_validate_name ("camera name", name, error))
    return FALSE;
  return store_tx_begin (self, error) &&
         store_tx_finish (self, camera_move_in_tx (self, id, household_id, name, error),
                          error);
}

/**
 * hearth_store_camera_free_name: for a camera that was not named by a
 *   person (a discovered camera's mDNS instance name)
 * Returns: (transfer full) (nullable): @name if no camera of the household
 *   has it (ignoring case), else the first free “@name (N)”, N = 2, 3, …;
 *   NULL with HEARTH_ERROR_INVALID or _STORE
 */
char *
hearth_store_camera_free_name (HearthStore *self, gint64 household_id,
                               const char *name, GError **error)
{
  g_return_val_if_fail (HEARTH_IS_STORE (self), NULL);

  if (!store_validate_name ("camera name", name, error))
    return NULL;
  return store_free_name (self, STORE_CAMERA_NAME_TAKEN, household_id, name, error);
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
 * hearth_store_camera_readopt: new URL (with the sub stream and device
 *   service it was resolved with, nullable) and evidence, quarantine lifted
 * Returns: TRUE; else HEARTH_ERROR_INVALID, _NOT_FOUND or _STORE
 */
gboolean
hearth_store_camera_readopt (HearthStore *self, const char *id, const char *url,
                             const char *sub_url, const char *service_url,
                             const HearthCameraEvidence *e, GError **error)
{
  const char *params[] = { url, e->mdns_type, e->mdns_name, e->txt_id, e->txt_serial,
                           e->txt_mac, e->neighbour_mac, e->cert_fp, service_url, sub_url };

  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);

  if (!hearth_store_validate_text ("camera URL", url, URL_MAX_BYTES, error) ||
      !validate_streams (service_url, sub_url, error) || !validate_evidence (e, error))
    return FALSE;
  return camera_update (self, id,
                        "UPDATE cameras SET url = ?2, mdns_type = ?3, mdns_name = ?4, "
                        "txt_id = ?5, txt_serial = ?6, txt_mac = ?7, neighbour_mac = ?8, "
                        "cert_fp = ?9, service_url = ?10, sub_url = ?11, "
                        "quarantined_at = NULL, quarantine_reason = NULL WHERE id = ?1",
                        params, G_N_ELEMENTS (params), "camera-adopt",
                        "adopted again with the evidence seen now", error);
}

/**
 * hearth_store_camera_follow: the same camera at a new address, with the
 *   URLs asked of it there where its plugin resolves them (URL, sub stream,
 *   device service at once; the last two nullable)
 * Returns: TRUE; else HEARTH_ERROR_INVALID, _NOT_FOUND or _STORE
 */
gboolean
hearth_store_camera_follow (HearthStore *self, const char *id, const char *url,
                            const char *sub_url, const char *service_url,
                            GError **error)
{
  const char *params[] = { url, service_url, sub_url };
  g_autofree char *redacted = NULL;
  g_autofree char *what = NULL;

  g_return_val_if_fail (HEARTH_IS_STORE (self), FALSE);

  if (!hearth_store_validate_text ("camera URL", url, URL_MAX_BYTES, error) ||
      !validate_streams (service_url, sub_url, error))
    return FALSE;
  redacted = hearth_url_redact (url);
  what = g_strdup_printf ("followed to %s", redacted);
  return camera_update (self, id,
                        "UPDATE cameras SET url = ?2, service_url = ?3, sub_url = ?4 "
                        "WHERE id = ?1", params, G_N_ELEMENTS (params), "camera-follow",
                        what, error);
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

  if (!hearth_store_validate_text ("quarantine reason", reason, 512, error))
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
