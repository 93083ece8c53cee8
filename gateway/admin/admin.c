/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthAdmin: the admin socket's methods (status, household.*, camera.*,
 * display.*, audit.list, pair.open, backup), which hearthctl calls.
 *
 * Created by HearthDaemon, which gives it the services it acts on and makes
 * it the handler of the admin socket (HearthControl). Each method reads its
 * parameters, changes the store and the services, and answers with one JSON
 * object; after every change that can take access away (revocation,
 * deletion, removal, move) it tells HearthCameras, which has the stream port
 * re-check its live streams at once (invariant 4) and then stops the cameras
 * that are gone. pair.open keeps its request open until the window's
 * "paired" or "expired" event (HearthPairing's signals), backup until its
 * data is sent. A camera becomes JSON in camera-json.c.
 * Runs on the main context.
 */
#define G_LOG_DOMAIN "hearth-admin"

#include "admin.h"
#include "camera-json.h"
#include "error.h"
#include "json-text.h"
#include "pki.h"

#include "hearth-config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

struct _HearthAdmin {
  GObject parent_instance;

  const HearthConfig *config;   /* the daemon's, outlives us */
  HearthStore *store;
  HearthCerts *certs;
  HearthHttpServer *http;
  HearthPairing *pairing;
  HearthCameras *camera_set;
  HearthDiscovery *discovery;   /* (nullable) */
  GHashTable *pair_requests;    /* window id (gint64*) → HearthControlRequest */
};

G_DEFINE_TYPE (HearthAdmin, hearth_admin, G_TYPE_OBJECT)

/**
 * hearth_admin_household_add:
 *
 * Adds household @name with a certificate authority of its own.
 *
 * Returns: its id, or 0 with @error set
 */
gint64
hearth_admin_household_add (HearthAdmin *self, const char *name, GError **error)
{
  g_autofree char *ca_cert = NULL;
  g_autofree char *ca_key = NULL;
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *cn = g_strdup_printf ("Hearth household CA %s", uuid);
  gint64 id;

  g_return_val_if_fail (HEARTH_IS_ADMIN (self), 0);

  if (!hearth_pki_make_ca (cn, HEARTH_PKI_CA_DAYS, &ca_cert, &ca_key, error))
    return 0;
  id = hearth_store_household_add (self->store, name, ca_cert, ca_key, error);
  explicit_bzero (ca_key, strlen (ca_key));
  return id;
}

/* --- admin requests ------------------------------------------------------------- */

typedef JsonNode *(*MethodFunc) (HearthAdmin *self, HearthControlRequest *req,
                                 GError **error);

static JsonNode *
builder_result (JsonBuilder *b)
{
  return json_builder_get_root (b);
}

/* mDNS for people: "off" ([discovery] enabled = false), "running", or
 * "no avahi-daemon". */
static const char *
discovery_state (HearthAdmin *self)
{
  if (self->discovery == NULL)
    return "off";
  return hearth_discovery_is_running (self->discovery) ? "running" : "no avahi-daemon";
}

static JsonNode *
method_status (HearthAdmin *self, HearthControlRequest *req, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GPtrArray) households = hearth_store_household_list (self->store, NULL);
  g_autoptr (GPtrArray) displays = hearth_store_display_list (self->store, 0, NULL);
  const char *fingerprint = hearth_certs_get_fingerprint (self->certs);
  g_autofree char *ranges = hearth_net_ranges_to_string (self->config->local_ranges);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, HEARTH_VERSION);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, self->config->name);
  json_builder_set_member_name (b, "state_dir");
  json_builder_add_string_value (b, self->config->state_dir);
  json_builder_set_member_name (b, "stream_port");
  json_builder_add_int_value (b, hearth_http_server_get_port (self->http));
  json_builder_set_member_name (b, "pairing_port");
  json_builder_add_int_value (b, hearth_pairing_get_port (self->pairing));
  json_builder_set_member_name (b, "certificate_fingerprint");
  json_builder_add_string_value (b, fingerprint);
  json_builder_set_member_name (b, "local_networks");
  json_builder_add_string_value (b, ranges);
  json_builder_set_member_name (b, "households");
  json_builder_add_int_value (b, households ? households->len : 0);
  json_builder_set_member_name (b, "cameras");
  json_builder_add_int_value (b, hearth_cameras_get_n (self->camera_set));
  json_builder_set_member_name (b, "displays");
  json_builder_add_int_value (b, displays ? displays->len : 0);
  json_builder_set_member_name (b, "connections");
  json_builder_add_int_value (b, hearth_http_server_get_n_connections (self->http));
  json_builder_set_member_name (b, "live_streams");
  json_builder_add_int_value (b, hearth_http_server_get_n_streams (self->http));
  json_builder_set_member_name (b, "discovery");
  json_builder_add_string_value (b, discovery_state (self));
  json_builder_end_object (b);
  return builder_result (b);
}

static JsonNode *
method_household_add (HearthAdmin *self, HearthControlRequest *req, GError **error)
{
  const char *name = hearth_control_request_get_string (req, "name", error);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  gint64 id;

  if (name == NULL)
    return NULL;
  id = hearth_admin_household_add (self, name, error);
  if (id == 0)
    return NULL;
  g_message ("Household “%s” added", name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, id);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_end_object (b);
  return builder_result (b);
}

static JsonNode *
method_household_list (HearthAdmin *self, HearthControlRequest *req, GError **error)
{
  g_autoptr (GPtrArray) list = hearth_store_household_list (self->store, error);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (list == NULL)
    return NULL;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "households");
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++) {
    HearthHousehold *h = list->pdata[i];
    g_autoptr (GPtrArray) cameras = hearth_store_camera_list (self->store, h->id, NULL);
    g_autoptr (GPtrArray) displays = hearth_store_display_list (self->store, h->id, NULL);
    guint active = 0;

    for (guint d = 0; displays && d < displays->len; d++)
      if (((HearthDisplayRow *) displays->pdata[d])->revoked_at == 0)
        active++;
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, h->id);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, h->name);
    json_builder_set_member_name (b, "cameras");
    json_builder_add_int_value (b, cameras ? cameras->len : 0);
    json_builder_set_member_name (b, "displays");
    json_builder_add_int_value (b, active);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return builder_result (b);
}

static JsonNode *
method_household_delete (HearthAdmin *self, HearthControlRequest *req,
                         GError **error)
{
  const char *name = hearth_control_request_get_string (req, "name", error);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (name == NULL || !hearth_store_household_delete (self->store, name, error))
    return NULL;
  g_message ("Household “%s” deleted", name);
  hearth_cameras_access_changed (self->camera_set);
  json_builder_begin_object (b);
  json_builder_end_object (b);
  return builder_result (b);
}

static JsonNode *
method_camera_add (HearthAdmin *self, HearthControlRequest *req, GError **error)
{
  const char *household, *name, *url;
  g_autoptr (HearthHousehold) h = NULL;
  g_autoptr (HearthCameraRow) row = NULL;
  g_autofree char *checked = NULL;
  g_autofree char *id = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (!(household = hearth_control_request_get_string (req, "household", error)) ||
      !(name = hearth_control_request_get_string (req, "name", error)) ||
      !(url = hearth_control_request_get_string (req, "url", error)))
    return NULL;
  checked = hearth_camera_url_check (url, self->config->local_ranges, error);
  if (checked == NULL)
    return NULL;
  h = hearth_store_household_get_by_name (self->store, household, error);
  if (h == NULL)
    return NULL;
  id = hearth_store_camera_add (self->store, h->id, name, checked, error);
  if (id == NULL)
    return NULL;
  row = hearth_store_camera_get (self->store, id, error);
  if (row == NULL)
    return NULL;
  hearth_cameras_start_one (self->camera_set, row);
  g_message ("Camera %s (“%s”) added to household “%s”", id, name, household);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, id);
  json_builder_end_object (b);
  return builder_result (b);
}

/* A string member of the request's params, or NULL when absent or null. */
static const char *
param_string (HearthControlRequest *req, const char *name)
{
  JsonObject *params = hearth_control_request_get_params (req);
  JsonNode *node = params ? json_object_get_member (params, name) : NULL;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* camera.list --discovered: what mDNS shows now, and which camera it is. */
static JsonNode *
camera_list_discovered (HearthAdmin *self)
{
  g_autoptr (GPtrArray) found = hearth_cameras_list_discovered (self->camera_set);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "discovery");
  json_builder_add_string_value (b, discovery_state (self));
  json_builder_set_member_name (b, "cameras");
  json_builder_begin_array (b);
  for (guint i = 0; i < found->len; i++) {
    const HearthDiscovered *d = found->pdata[i];
    const HearthService *service = &d->found->service;
    g_autofree char *address = hearth_format_host_port (service->address, service->port);
    g_autofree char *name = g_utf8_make_valid (service->name, -1);

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_string_value (b, d->found->key);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, name);
    hearth_json_add_string_or_null (b, "maker", d->maker);
    hearth_json_add_string_or_null (b, "model", d->model);
    json_builder_set_member_name (b, "address");
    json_builder_add_string_value (b, address);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, service->type);
    json_builder_set_member_name (b, "plugin");
    json_builder_add_string_value (b, d->plugin->name);
    json_builder_set_member_name (b, "state");
    json_builder_add_string_value (b, d->adopted == NULL ? "discovered"
                                   : d->adopted->quarantined_at ? "quarantined"
                                   : "adopted");
    hearth_json_add_string_or_null (b, "camera", d->adopted ? d->adopted->id : NULL);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return builder_result (b);
}

/* camera.list: every camera with its state, reason, announcement and
 * evidence (camera-json.c). */
static JsonNode *
method_camera_list (HearthAdmin *self, HearthControlRequest *req, GError **error)
{
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (hearth_control_request_get_int (req, "discovered", 0) != 0)
    return camera_list_discovered (self);
  rows = hearth_store_camera_list (self->store, 0, error);
  if (rows == NULL)
    return NULL;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "cameras");
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++) {
    const HearthCameraRow *row = rows->pdata[i];
    const HearthPlugin *plugin = hearth_cameras_get_plugin (self->camera_set, row);
    HearthCameraJsonAdmin admin = {
      .plugin = plugin ? plugin->name : NULL,
      .announced = hearth_cameras_is_announced (self->camera_set, row),
    };

    hearth_camera_json_add (b, row, hearth_cameras_lookup (self->camera_set, row->id),
                            HEARTH_CAMERA_JSON_ADMIN, &admin);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return builder_result (b);
}

static void
on_adopted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (HearthControlRequest) req = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *camera_id = hearth_cameras_adopt_finish (HEARTH_CAMERAS (source), result,
                                                           &error);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (camera_id == NULL) {
    hearth_control_request_reply_error (req, error);
  } else {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_string_value (b, camera_id);
    json_builder_end_object (b);
    hearth_control_request_reply (req, json_builder_get_root (b));
  }
  hearth_control_request_finish (req);
}

/* camera.adopt: a discovered service (its key) into a household, or a
 * quarantined camera (its UUID) again. Answered when the camera is adopted:
 * an ONVIF camera is asked for its stream URLs first. */
static void
camera_adopt (HearthAdmin *self, HearthControlRequest *req)
{
  g_autoptr (GError) error = NULL;
  const char *id = hearth_control_request_get_string (req, "id", &error);

  if (id == NULL) {
    hearth_control_request_reply_error (req, error);
    hearth_control_request_finish (req);
    return;
  }
  hearth_cameras_adopt_async (self->camera_set, id, param_string (req, "household"),
                              param_string (req, "name"), param_string (req, "user"),
                              param_string (req, "password"), on_adopted,
                              hearth_control_request_ref (req));
}

static JsonNode *
method_camera_stats (HearthAdmin *self, HearthControlRequest *req, GError **error)
{
  const char *id = hearth_control_request_get_string (req, "id", error);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (HearthCameraRow) row = NULL;
  HearthCameraJsonAdmin admin = { NULL };

  if (id == NULL)
    return NULL;
  row = hearth_store_camera_get (self->store, id, error);
  if (row == NULL)
    return NULL;
  admin.displays = hearth_http_server_count_viewers (self->http, row->id);
  hearth_camera_json_add (b, row, hearth_cameras_lookup (self->camera_set, row->id),
                          HEARTH_CAMERA_JSON_STATS, &admin);
  return builder_result (b);
}

static JsonNode *
method_camera_remove (HearthAdmin *self, HearthControlRequest *req, GError **error)
{
  const char *id = hearth_control_request_get_string (req, "id", error);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (id == NULL || !hearth_store_camera_remove (self->store, id, error))
    return NULL;
  hearth_cameras_access_changed (self->camera_set);
  g_message ("Camera %s removed", id);
  json_builder_begin_object (b);
  json_builder_end_object (b);
  return builder_result (b);
}

/* A moved camera restarts: its new household never gets frames cached while
 * it belonged to the old one (a new generation), and the old household's
 * streams of it are cut. */
static JsonNode *
method_camera_move (HearthAdmin *self, HearthControlRequest *req, GError **error)
{
  const char *id, *household;
  g_autoptr (HearthHousehold) to = NULL;
  g_autoptr (HearthCameraRow) row = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (!(id = hearth_control_request_get_string (req, "id", error)) ||
      !(household = hearth_control_request_get_string (req, "household", error)))
    return NULL;
  to = hearth_store_household_get_by_name (self->store, household, error);
  if (to == NULL)
    return NULL;
  if (!hearth_store_camera_move (self->store, id, to->id, param_string (req, "name"),
                                 error)) {
    if (g_error_matches (*error, HEARTH_ERROR, HEARTH_ERROR_EXISTS)) {
      g_autofree char *message = g_strdup ((*error)->message);

      g_clear_error (error);
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
                   "%s; move it under another name with --name NAME", message);
    }
    return NULL;
  }
  hearth_cameras_access_changed (self->camera_set);
  hearth_cameras_stop_one (self->camera_set, id);
  row = hearth_store_camera_get (self->store, id, error);
  if (row == NULL)
    return NULL;
  hearth_cameras_start_one (self->camera_set, row);
  g_message ("Camera %s moved to household “%s”", id, household);
  json_builder_begin_object (b);
  json_builder_end_object (b);
  return builder_result (b);
}

static JsonNode *
method_display_list (HearthAdmin *self, HearthControlRequest *req, GError **error)
{
  const char *household = hearth_control_request_get_string (req, "household", NULL);
  g_autoptr (HearthHousehold) h = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (household != NULL) {
    h = hearth_store_household_get_by_name (self->store, household, error);
    if (h == NULL)
      return NULL;
  }
  rows = hearth_store_display_list (self->store, h ? h->id : 0, error);
  if (rows == NULL)
    return NULL;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "displays");
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++) {
    HearthDisplayRow *d = rows->pdata[i];

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, d->id);
    json_builder_set_member_name (b, "household");
    json_builder_add_string_value (b, d->household);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, d->name);
    json_builder_set_member_name (b, "fingerprint");
    json_builder_add_string_value (b, d->fingerprint ? d->fingerprint : "");
    json_builder_set_member_name (b, "paired_at");
    json_builder_add_int_value (b, d->created);
    json_builder_set_member_name (b, "revoked");
    json_builder_add_boolean_value (b, d->revoked_at != 0);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return builder_result (b);
}

static JsonNode *
method_display_revoke (HearthAdmin *self, HearthControlRequest *req, GError **error)
{
  gint64 id = hearth_control_request_get_int (req, "id", -1);
  g_autoptr (HearthDisplayRow) display = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (id <= 0) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "id: want a display id (see hearthctl display list)");
    return NULL;
  }
  display = hearth_store_display_get (self->store, id, error);
  if (display == NULL || !hearth_store_display_revoke (self->store, id, error))
    return NULL;
  g_message ("Display %" G_GINT64_FORMAT " (“%s”) revoked", id, display->name);
  hearth_cameras_access_changed (self->camera_set);
  json_builder_begin_object (b);
  json_builder_end_object (b);
  return builder_result (b);
}

static JsonNode *
method_audit_list (HearthAdmin *self, HearthControlRequest *req, GError **error)
{
  gint64 since = hearth_control_request_get_int (req, "since_us", 0);
  g_autoptr (GPtrArray) rows = hearth_store_audit_list (self->store, since, error);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (rows == NULL)
    return NULL;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "events");
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++) {
    HearthAuditRow *a = rows->pdata[i];

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "time_us");
    json_builder_add_int_value (b, a->at);
    json_builder_set_member_name (b, "kind");
    json_builder_add_string_value (b, a->kind);
    json_builder_set_member_name (b, "household_id");
    json_builder_add_int_value (b, a->household_id);
    json_builder_set_member_name (b, "detail");
    json_builder_add_string_value (b, a->detail);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return builder_result (b);
}

/*
 * backup: a consistent copy of the store (SQLite online backup, taken while
 * streams run) together with the gateway's key, certificate and root CA, so
 * that a restored gateway keeps the identity its displays pinned. It is made in a
 * private temporary file in the state directory and sent after the reply
 * (which gives its size and SHA-256) as "data" events of base64, then "end".
 */
#define BACKUP_CHUNK_BYTES (32 * 1024)

typedef struct {
  HearthControlRequest *req;
  GBytes *bytes;
} BackupSend;

static gboolean
backup_send (gpointer user_data)
{
  BackupSend *send = user_data;
  gsize size;
  const guint8 *data = g_bytes_get_data (send->bytes, &size);
  g_autoptr (JsonBuilder) end = json_builder_new ();

  for (gsize offset = 0; offset < size && !hearth_control_request_is_closed (send->req);
       offset += BACKUP_CHUNK_BYTES) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autofree char *chunk = g_base64_encode (data + offset,
                                              MIN (BACKUP_CHUNK_BYTES, size - offset));

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, "data");
    json_builder_set_member_name (b, "data");
    json_builder_add_string_value (b, chunk);
    json_builder_end_object (b);
    hearth_control_request_send_event (send->req, json_builder_get_root (b));
  }
  json_builder_begin_object (end);
  json_builder_set_member_name (end, "type");
  json_builder_add_string_value (end, "end");
  json_builder_end_object (end);
  hearth_control_request_send_event (send->req, json_builder_get_root (end));
  hearth_control_request_finish (send->req);
  hearth_control_request_unref (send->req);
  g_bytes_unref (send->bytes);
  g_free (send);
  return G_SOURCE_REMOVE;
}

static JsonNode *
method_backup (HearthAdmin *self, HearthControlRequest *req, GError **error)
{
  static const char *const carried[] = { HEARTH_STATE_KEY_FILE, HEARTH_STATE_CERT_FILE,
                                         HEARTH_STATE_CA_KEY_FILE, HEARTH_STATE_CA_CERT_FILE };
  g_autoptr (GHashTable) files = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                        (GDestroyNotify) g_bytes_unref);
  g_autofree char *tmp = g_build_filename (self->config->state_dir, HEARTH_ADMIN_BACKUP_TMP_NAME,
                                           NULL);
  g_autofree char *sha256 = NULL;
  char *data = NULL;
  gsize len = 0;
  GBytes *bytes;
  BackupSend *send;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  int fd;

  for (guint i = 0; i < G_N_ELEMENTS (carried); i++) {
    g_autofree char *path = g_build_filename (self->config->state_dir, carried[i], NULL);
    char *contents = NULL;
    gsize size = 0;

    if (!g_file_get_contents (path, &contents, &size, error))
      return NULL;
    g_hash_table_insert (files, (gpointer) carried[i], g_bytes_new_take (contents, size));
  }
  /* A fresh private name; the store creates the file itself, exclusively. */
  fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                 "cannot make a temporary file in %s: %s", self->config->state_dir,
                 g_strerror (saved));
    return NULL;
  }
  close (fd);
  g_unlink (tmp);
  if (!hearth_store_backup (self->store, tmp, files, error))
    return NULL;
  if (!g_file_get_contents (tmp, &data, &len, error)) {
    g_unlink (tmp);
    return NULL;
  }
  g_unlink (tmp);
  bytes = g_bytes_new_take (data, len);
  sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  g_message ("Backup taken (%" G_GSIZE_FORMAT " bytes)", len);

  send = g_new0 (BackupSend, 1);
  send->req = hearth_control_request_ref (req);
  send->bytes = bytes;
  g_idle_add (backup_send, send);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "bytes");
  json_builder_add_int_value (b, (gint64) len);
  json_builder_set_member_name (b, "sha256");
  json_builder_add_string_value (b, sha256);
  json_builder_end_object (b);
  return builder_result (b);
}

/* pair.open answers at once, then keeps the request for a "paired" or
 * "expired" event. */
static JsonNode *
method_pair_open (HearthAdmin *self, HearthControlRequest *req, GError **error)
{
  const char *household = hearth_control_request_get_string (req, "household", error);
  gint64 ttl = hearth_control_request_get_int (req, "ttl_seconds",
                                               self->config->pairing_ttl);
  g_autofree char *payload = NULL;
  g_autofree char *code = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  gint64 window_id = 0, expires = 0;

  if (household == NULL)
    return NULL;
  if (ttl < 1 || ttl > 86400) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "ttl_seconds: want 1 to 86400");
    return NULL;
  }
  payload = hearth_pairing_open_window (self->pairing, household, (guint) ttl,
                                        &window_id, &expires, &code, error);
  if (payload == NULL)
    return NULL;
  g_message ("Pairing window %" G_GINT64_FORMAT " open for household “%s” for %"
             G_GINT64_FORMAT " s", window_id, household, ttl);
  g_hash_table_insert (self->pair_requests, g_memdup2 (&window_id, sizeof window_id),
                       hearth_control_request_ref (req));

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "payload");
  json_builder_add_string_value (b, payload);
  /* For the admin's terminal only: never logged. */
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, code);
  json_builder_set_member_name (b, "window_id");
  json_builder_add_int_value (b, window_id);
  json_builder_set_member_name (b, "expires_at");
  json_builder_add_int_value (b, expires / G_USEC_PER_SEC);
  json_builder_end_object (b);
  return builder_result (b);
}

static void
pair_event (HearthAdmin *self, gint64 window_id, JsonNode *event)
{
  HearthControlRequest *req = g_hash_table_lookup (self->pair_requests, &window_id);

  if (req == NULL) {
    json_node_unref (event);
    return;
  }
  if (!hearth_control_request_is_closed (req)) {
    hearth_control_request_send_event (req, event);
    hearth_control_request_finish (req);
  } else {
    json_node_unref (event);
  }
  g_hash_table_remove (self->pair_requests, &window_id);
}

static void
on_paired (HearthPairing *pairing, gint64 window_id, gint64 display_id,
           const char *name, gpointer user_data)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "paired");
  json_builder_set_member_name (b, "display_id");
  json_builder_add_int_value (b, display_id);
  json_builder_set_member_name (b, "display_name");
  json_builder_add_string_value (b, name);
  json_builder_end_object (b);
  pair_event (user_data, window_id, json_builder_get_root (b));
}

static void
on_window_closed (HearthPairing *pairing, gint64 window_id, gpointer user_data)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  g_message ("Pairing window %" G_GINT64_FORMAT " expired", window_id);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "expired");
  json_builder_end_object (b);
  pair_event (user_data, window_id, json_builder_get_root (b));
}

static const struct {
  const char *name;
  MethodFunc func;
} methods[] = {
  { "status", method_status },
  { "household.add", method_household_add },
  { "household.list", method_household_list },
  { "household.delete", method_household_delete },
  { "camera.add", method_camera_add },
  { "camera.list", method_camera_list },
  { "camera.remove", method_camera_remove },
  { "camera.forget", method_camera_remove },
  { "camera.stats", method_camera_stats },
  { "camera.move", method_camera_move },
  { "display.list", method_display_list },
  { "display.revoke", method_display_revoke },
  { "audit.list", method_audit_list },
  { "pair.open", method_pair_open },
  { "backup", method_backup },
};

/**
 * hearth_admin_handle_request:
 * @user_data: the #HearthAdmin
 *
 * The admin socket's handler (a #HearthControlHandler): runs the request's
 * method and replies; pair.open and backup stay open for their events.
 */
void
hearth_admin_handle_request (HearthControl *control, HearthControlRequest *req,
                             gpointer user_data)
{
  HearthAdmin *self = HEARTH_ADMIN (user_data);
  const char *method = hearth_control_request_get_method (req);
  g_autoptr (GError) error = NULL;

  if (g_str_equal (method, "camera.adopt")) {
    camera_adopt (self, req);
    return;
  }
  for (guint i = 0; i < G_N_ELEMENTS (methods); i++) {
    if (g_str_equal (methods[i].name, method)) {
      JsonNode *result = methods[i].func (self, req, &error);

      if (result != NULL)
        hearth_control_request_reply (req, result);
      else
        hearth_control_request_reply_error (req, error);
      if (result != NULL && (g_str_equal (method, "pair.open") ||
                             g_str_equal (method, "backup")))
        return; /* stays open for its events */
      hearth_control_request_finish (req);
      return;
    }
  }
  g_set_error (&error, HEARTH_ERROR, HEARTH_ERROR_INVALID, "unknown method “%s”",
               method);
  hearth_control_request_reply_error (req, error);
  hearth_control_request_finish (req);
}


/* --- the object ------------------------------------------------------------------ */

void
hearth_admin_set_discovery (HearthAdmin *self, HearthDiscovery *discovery)
{
  g_return_if_fail (HEARTH_IS_ADMIN (self));
  g_return_if_fail (self->discovery == NULL);

  self->discovery = g_object_ref (discovery);
}

void
hearth_admin_stop (HearthAdmin *self)
{
  g_return_if_fail (HEARTH_IS_ADMIN (self));

  g_hash_table_remove_all (self->pair_requests);
}

static void
hearth_admin_dispose (GObject *object)
{
  HearthAdmin *self = HEARTH_ADMIN (object);

  if (self->pairing != NULL)
    g_signal_handlers_disconnect_by_data (self->pairing, self);
  g_hash_table_remove_all (self->pair_requests);
  g_clear_object (&self->discovery);
  g_clear_object (&self->camera_set);
  g_clear_object (&self->pairing);
  g_clear_object (&self->http);
  g_clear_object (&self->certs);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (hearth_admin_parent_class)->dispose (object);
}

static void
hearth_admin_finalize (GObject *object)
{
  HearthAdmin *self = HEARTH_ADMIN (object);

  g_hash_table_unref (self->pair_requests);
  G_OBJECT_CLASS (hearth_admin_parent_class)->finalize (object);
}

static void
hearth_admin_class_init (HearthAdminClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hearth_admin_dispose;
  G_OBJECT_CLASS (klass)->finalize = hearth_admin_finalize;
}

static void
hearth_admin_init (HearthAdmin *self)
{
  self->pair_requests = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
      (GDestroyNotify) hearth_control_request_unref);
}

HearthAdmin *
hearth_admin_new (const HearthConfig *config, HearthStore *store, HearthCerts *certs,
                  HearthHttpServer *http, HearthPairing *pairing,
                  HearthCameras *camera_set)
{
  HearthAdmin *self = g_object_new (HEARTH_TYPE_ADMIN, NULL);

  self->config = config;
  self->store = g_object_ref (store);
  self->certs = g_object_ref (certs);
  self->http = g_object_ref (http);
  self->pairing = g_object_ref (pairing);
  self->camera_set = g_object_ref (camera_set);
  g_signal_connect (pairing, "paired", G_CALLBACK (on_paired), self);
  g_signal_connect (pairing, "window-closed", G_CALLBACK (on_window_closed), self);
  return self;
}
