/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthDaemon: hearthd's one owner of state.
 *
 * Created by main.c with an immutable HearthConfig. It owns the HearthStore,
 * the gateway's TLS identity, the camera plugins, the cameras' ingest and
 * identity (HearthCameras), mDNS (HearthDiscovery), the stream port
 * (HearthHttpServer), HearthPairing and the admin socket (HearthControl), and
 * turns hearthctl requests into store changes. After every change that can
 * take access away (revocation, deletion, removal) it makes the stream port
 * re-check its live streams at once (invariant 4).
 */
#define G_LOG_DOMAIN "hearth-daemon"

#include "daemon.h"
#include "access.h"
#include "camera.h"
#include "cameras.h"
#include "certs.h"
#include "control.h"
#include "discovery.h"
#include "error.h"
#include "http-server.h"
#include "pairing.h"
#include "pki.h"
#include "plugins.h"
#include "qr.h"
#include "store.h"

#include "hearth-config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define DEMO_HOUSEHOLD "Home"
#define DEMO_CAMERA_URL "synthetic:"

struct _HearthDaemon {
  GObject parent_instance;

  HearthConfig *config;
  HearthStore *store;
  HearthAccess *access;
  HearthCerts *certs;           /* the root CA and the server certificate */
  GHashTable *cameras;          /* id → HearthCamera */
  HearthPlugins *plugins;
  HearthCameras *camera_set;    /* ingest and identity of the cameras above */
  HearthDiscovery *discovery;   /* NULL when [discovery] enabled = false */
  HearthHttpServer *http;
  HearthPairing *pairing;
  HearthControl *control;
  GHashTable *pair_requests;    /* window id (gint64*) → HearthControlRequest */
};

G_DEFINE_TYPE (HearthDaemon, hearth_daemon, G_TYPE_OBJECT)

/* --- state directory and TLS identity ------------------------------------------ */

static gboolean
ensure_private_dir (const char *path, GError **error)
{
  if (g_mkdir_with_parents (path, 0700) != 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                 "cannot create the state directory %s: %s", path,
                 g_strerror (saved));
    return FALSE;
  }
  if (g_chmod (path, 0700) != 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                 "cannot make %s private: %s", path, g_strerror (saved));
    return FALSE;
  }
  return TRUE;
}

/*
 * Files that a hearthd killed while it wrote them leaves in the state
 * directory: the temporary copy a backup is made in (method_backup) with its
 * SQLite journal, and the temporary files of hearth_pki_write_private_file().
 * They may hold keys, and no later run would use them. Removed once this
 * daemon holds the admin socket: no other hearthd serves the directory then.
 */
#define BACKUP_TMP_NAME ".hearth-backup-XXXXXX.tmp"

static const char *const leftover_patterns[] = {
  ".hearth-backup-??????.tmp", ".hearth-backup-??????.tmp-journal",
  ".hearth-backup-??????.tmp-wal", ".hearth-backup-??????.tmp-shm",
  "*.key.tmp-??????", "*.crt.tmp-??????", "*.key.new.tmp-??????",
};

static void
remove_leftovers (const char *state_dir)
{
  g_autoptr (GDir) dir = g_dir_open (state_dir, 0, NULL);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL) {
    for (guint i = 0; i < G_N_ELEMENTS (leftover_patterns); i++) {
      g_autofree char *path = NULL;

      if (!g_pattern_match_simple (leftover_patterns[i], name))
        continue;
      path = g_build_filename (state_dir, name, NULL);
      if (g_unlink (path) == 0)
        g_message ("Removed %s, left by an interrupted run", path);
      else
        g_warning ("Cannot remove %s, left by an interrupted run: %s, ignoring", path,
                   g_strerror (errno));
      break;
    }
  }
}

/* A renewed server certificate: the connections that follow get it. */
static void
on_certs_changed (HearthCerts *certs, gpointer user_data)
{
  HearthDaemon *self = user_data;
  GTlsCertificate *certificate = hearth_certs_get_certificate (certs);

  hearth_http_server_set_certificate (self->http, certificate);
  hearth_pairing_set_certificate (self->pairing, certificate);
}

/* After any change that can take access away: cut what is no longer
 * allowed first, then stop the cameras that are gone (stopping ends streams
 * cleanly, which would let their queued bytes out). */
static void
access_changed (HearthDaemon *self)
{
  hearth_http_server_recheck (self->http);
  hearth_cameras_sync (self->camera_set);
}

static gint64
household_add (HearthDaemon *self, const char *name, GError **error)
{
  g_autofree char *ca_cert = NULL;
  g_autofree char *ca_key = NULL;
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *cn = g_strdup_printf ("Hearth household CA %s", uuid);
  gint64 id;

  if (!hearth_pki_make_ca (cn, HEARTH_PKI_CA_DAYS, &ca_cert, &ca_key, error))
    return 0;
  id = hearth_store_household_add (self->store, name, ca_cert, ca_key, error);
  explicit_bzero (ca_key, strlen (ca_key));
  return id;
}

/* --- admin requests ------------------------------------------------------------- */

typedef JsonNode *(*MethodFunc) (HearthDaemon *self, HearthControlRequest *req,
                                 GError **error);

static JsonNode *
builder_result (JsonBuilder *b)
{
  return json_builder_get_root (b);
}

static JsonNode *
method_status (HearthDaemon *self, HearthControlRequest *req, GError **error)
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
  json_builder_add_int_value (b, g_hash_table_size (self->cameras));
  json_builder_set_member_name (b, "displays");
  json_builder_add_int_value (b, displays ? displays->len : 0);
  json_builder_set_member_name (b, "connections");
  json_builder_add_int_value (b, hearth_http_server_get_n_connections (self->http));
  json_builder_set_member_name (b, "live_streams");
  json_builder_add_int_value (b, hearth_http_server_get_n_streams (self->http));
  json_builder_set_member_name (b, "discovery");
  json_builder_add_string_value (b, self->discovery == NULL ? "off"
                                 : hearth_discovery_is_running (self->discovery)
                                 ? "running" : "no avahi-daemon");
  json_builder_end_object (b);
  return builder_result (b);
}

static JsonNode *
method_household_add (HearthDaemon *self, HearthControlRequest *req, GError **error)
{
  const char *name = hearth_control_request_get_string (req, "name", error);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  gint64 id;

  if (name == NULL)
    return NULL;
  id = household_add (self, name, error);
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
method_household_list (HearthDaemon *self, HearthControlRequest *req, GError **error)
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
method_household_delete (HearthDaemon *self, HearthControlRequest *req,
                         GError **error)
{
  const char *name = hearth_control_request_get_string (req, "name", error);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (name == NULL || !hearth_store_household_delete (self->store, name, error))
    return NULL;
  g_message ("Household “%s” deleted", name);
  access_changed (self);
  json_builder_begin_object (b);
  json_builder_end_object (b);
  return builder_result (b);
}

static JsonNode *
method_camera_add (HearthDaemon *self, HearthControlRequest *req, GError **error)
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

static JsonNode *
method_camera_list (HearthDaemon *self, HearthControlRequest *req, GError **error)
{
  if (hearth_control_request_get_int (req, "discovered", 0) != 0)
    return hearth_cameras_list_discovered (self->camera_set);
  return hearth_cameras_list (self->camera_set, error);
}

/* camera.adopt: a discovered service (its key) into a household, or a
 * quarantined camera (its UUID) again. */
static JsonNode *
method_camera_adopt (HearthDaemon *self, HearthControlRequest *req, GError **error)
{
  const char *id = hearth_control_request_get_string (req, "id", error);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *camera_id = NULL;

  if (id == NULL)
    return NULL;
  camera_id = hearth_cameras_adopt (self->camera_set, id, param_string (req, "household"),
                                    param_string (req, "name"), param_string (req, "user"),
                                    param_string (req, "password"), error);
  if (camera_id == NULL)
    return NULL;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, camera_id);
  json_builder_end_object (b);
  return builder_result (b);
}

static JsonNode *
method_camera_stats (HearthDaemon *self, HearthControlRequest *req, GError **error)
{
  const char *id = hearth_control_request_get_string (req, "id", error);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (HearthCameraRow) row = NULL;
  HearthStreamStats stats;
  HearthCamera *camera;
  const char *codec = NULL;
  const char *audio = NULL, *audio_ignored = NULL;

  if (id == NULL)
    return NULL;
  row = hearth_store_camera_get (self->store, id, error);
  if (row == NULL)
    return NULL;
  camera = g_hash_table_lookup (self->cameras, row->id);
  if (camera != NULL)
    hearth_stream_get_stats (hearth_camera_get_stream (camera), &stats);
  else
    memset (&stats, 0, sizeof stats);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, row->id);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, row->name);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, hearth_camera_get_state_name (camera));
  json_builder_set_member_name (b, "codec");
  if (camera != NULL && hearth_camera_get_video_info (camera, &codec, NULL, NULL, NULL))
    json_builder_add_string_value (b, codec);
  else
    json_builder_add_null_value (b);
  if (camera != NULL)
    hearth_camera_get_audio_info (camera, &audio, &audio_ignored);
  json_builder_set_member_name (b, "audio");
  if (audio != NULL)
    json_builder_add_string_value (b, audio);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "audio_ignored");
  if (audio_ignored != NULL)
    json_builder_add_string_value (b, audio_ignored);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "generation");
  json_builder_add_int_value (b, stats.generation);
  json_builder_set_member_name (b, "bitrate_kbps");
  json_builder_add_double_value (b, stats.bitrate_bps / 1000.0);
  json_builder_set_member_name (b, "fps");
  json_builder_add_double_value (b, stats.fps);
  json_builder_set_member_name (b, "keyframe_interval_frames");
  json_builder_add_int_value (b, stats.keyframe_interval);
  json_builder_set_member_name (b, "keyframe_interval_s");
  json_builder_add_double_value (b, stats.keyframe_interval_s);
  json_builder_set_member_name (b, "displays");
  json_builder_add_int_value (b, hearth_http_server_count_viewers (self->http,
                                                                   row->id));
  json_builder_set_member_name (b, "drops");
  json_builder_add_int_value (b, stats.dropped);
  json_builder_set_member_name (b, "frames");
  json_builder_add_int_value (b, stats.frames);
  json_builder_set_member_name (b, "audio_fragments");
  json_builder_add_int_value (b, stats.audio_fragments);
  json_builder_set_member_name (b, "bytes");
  json_builder_add_int_value (b, stats.bytes);
  json_builder_end_object (b);
  return builder_result (b);
}

static JsonNode *
method_camera_remove (HearthDaemon *self, HearthControlRequest *req, GError **error)
{
  const char *id = hearth_control_request_get_string (req, "id", error);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (id == NULL || !hearth_store_camera_remove (self->store, id, error))
    return NULL;
  access_changed (self);
  g_message ("Camera %s removed", id);
  json_builder_begin_object (b);
  json_builder_end_object (b);
  return builder_result (b);
}

/* A moved camera restarts: its new household never gets frames cached while
 * it belonged to the old one (a new generation), and the old household's
 * streams of it are cut. */
static JsonNode *
method_camera_move (HearthDaemon *self, HearthControlRequest *req, GError **error)
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
  access_changed (self);
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
method_display_list (HearthDaemon *self, HearthControlRequest *req, GError **error)
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
method_display_revoke (HearthDaemon *self, HearthControlRequest *req, GError **error)
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
  access_changed (self);
  json_builder_begin_object (b);
  json_builder_end_object (b);
  return builder_result (b);
}

static JsonNode *
method_audit_list (HearthDaemon *self, HearthControlRequest *req, GError **error)
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
method_backup (HearthDaemon *self, HearthControlRequest *req, GError **error)
{
  static const char *const carried[] = { HEARTH_STATE_KEY_FILE, HEARTH_STATE_CERT_FILE,
                                         HEARTH_STATE_CA_KEY_FILE, HEARTH_STATE_CA_CERT_FILE };
  g_autoptr (GHashTable) files = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                        (GDestroyNotify) g_bytes_unref);
  g_autofree char *tmp = g_build_filename (self->config->state_dir, BACKUP_TMP_NAME,
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
method_pair_open (HearthDaemon *self, HearthControlRequest *req, GError **error)
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

/* The pairing port is announced only while a window is open. */
static void
announce_pairing (HearthDaemon *self)
{
  if (self->discovery != NULL && self->pairing != NULL)
    hearth_discovery_set_pairing_port (self->discovery,
                                       hearth_pairing_get_port (self->pairing));
}

static void
pair_event (HearthDaemon *self, gint64 window_id, JsonNode *event)
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
  { "camera.adopt", method_camera_adopt },
  { "camera.stats", method_camera_stats },
  { "camera.move", method_camera_move },
  { "display.list", method_display_list },
  { "display.revoke", method_display_revoke },
  { "audit.list", method_audit_list },
  { "pair.open", method_pair_open },
  { "backup", method_backup },
};

static void
on_control_request (HearthControl *control, HearthControlRequest *req,
                    gpointer user_data)
{
  HearthDaemon *self = user_data;
  const char *method = hearth_control_request_get_method (req);
  g_autoptr (GError) error = NULL;

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

/* --- start and stop -------------------------------------------------------------- */

static gboolean
demo_setup (HearthDaemon *self, GError **error)
{
  g_autoptr (HearthHousehold) home = NULL;
  g_autoptr (GPtrArray) cameras = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *code = NULL;
  g_autofree char *qr = NULL;
  gint64 expires = 0;

  home = hearth_store_household_get_by_name (self->store, DEMO_HOUSEHOLD, NULL);
  if (home == NULL) {
    if (household_add (self, DEMO_HOUSEHOLD, error) == 0)
      return FALSE;
    home = hearth_store_household_get_by_name (self->store, DEMO_HOUSEHOLD, error);
    if (home == NULL)
      return FALSE;
  }
  cameras = hearth_store_camera_list (self->store, home->id, error);
  if (cameras == NULL)
    return FALSE;
  if (cameras->len == 0) {
    g_autofree char *id = hearth_store_camera_add (self->store, home->id, "Demo",
                                                   DEMO_CAMERA_URL, error);
    g_autoptr (HearthCameraRow) row = NULL;

    if (id == NULL || !(row = hearth_store_camera_get (self->store, id, error)))
      return FALSE;
    hearth_cameras_start_one (self->camera_set, row);
    g_message ("Demo camera %s added to household “%s”", id, DEMO_HOUSEHOLD);
  }

  payload = hearth_pairing_open_window (self->pairing, DEMO_HOUSEHOLD,
                                        self->config->pairing_ttl, NULL, &expires,
                                        &code, error);
  if (payload == NULL)
    return FALSE;
  qr = hearth_qr_render_terminal (payload, error);
  if (qr == NULL)
    return FALSE;
  g_print ("\nScan this with a phone or a display to pair it with household “%s”\n"
           "(or run: hearth-display pair '%s')\n\n%s\n"
           "Code for phones and browsers: %s\n"
           "The QR code works once and expires in %u minutes.\n\n",
           DEMO_HOUSEHOLD, payload, qr, code, self->config->pairing_ttl / 60);
  return TRUE;
}

HearthPlugins *
hearth_daemon_load_plugins (const HearthConfig *config, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  HearthPlugins *plugins;

  plugins = hearth_plugins_load (config->plugin_dir ? config->plugin_dir
                                                    : hearth_plugins_default_dir (),
                                 &local_error);
  if (plugins != NULL)
    return plugins;
  /* Say how to point hearthd at the right directory. */
  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
               "%s; name the directory of the camera plugins with --plugin-dir DIR, "
               "[cameras] plugin-dir = DIR or $" HEARTH_PLUGIN_DIR_ENV,
               local_error->message);
  hearth_config_prefix_location (config, error, "cameras", "plugin-dir", config->plugin_dir);
  return NULL;
}

gboolean
hearth_daemon_start (HearthDaemon *self, gboolean demo, GError **error)
{
  g_autofree char *db_path = NULL;
  g_autofree char *socket_path = NULL;

  if (!ensure_private_dir (self->config->state_dir, error))
    return FALSE;
  db_path = g_build_filename (self->config->state_dir, HEARTH_STATE_DB_FILE,
                             NULL);
  self->store = hearth_store_open (db_path, error);
  if (self->store == NULL)
    return FALSE;
  self->certs = hearth_certs_new (self->config);
  if (!hearth_certs_load (self->certs, error))
    return FALSE;
  self->plugins = hearth_daemon_load_plugins (self->config, error);
  if (self->plugins == NULL)
    return FALSE;

  self->access = hearth_access_new (self->store, self->config->local_ranges);
  self->http = hearth_http_server_new (self->access, self->cameras, self->config);
  if (!hearth_http_server_listen (self->http, hearth_certs_get_certificate (self->certs),
                                  self->config->listen, error))
    return FALSE;
  self->camera_set = hearth_cameras_new (self->config, self->store, self->plugins,
                                         self->http, self->cameras);

  self->pairing = hearth_pairing_new (self->store, self->access, self->config,
                                      hearth_certs_get_certificate (self->certs),
                                      hearth_certs_get_ca_pem (self->certs));
  hearth_pairing_set_stream_port (self->pairing,
                                  hearth_http_server_get_port (self->http));
  g_signal_connect (self->pairing, "paired", G_CALLBACK (on_paired), self);
  g_signal_connect (self->pairing, "window-closed", G_CALLBACK (on_window_closed),
                    self);
  g_signal_connect_swapped (self->pairing, "listener-changed",
                            G_CALLBACK (announce_pairing), self);
  if (!hearth_pairing_start (self->pairing, error))
    return FALSE;

  socket_path = self->config->control_socket
      ? g_strdup (self->config->control_socket)
      : g_build_filename (self->config->state_dir, HEARTH_DEFAULT_SOCKET_NAME, NULL);
  /* A directory of its own (e.g. /run/hearth) may be missing when hearthd
   * does not run as a service. */
  {
    g_autofree char *socket_dir = g_path_get_dirname (socket_path);

    if (g_mkdir_with_parents (socket_dir, 0755) != 0) {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create the directory of the admin socket %s: %s",
                   socket_dir, g_strerror (saved));
      return FALSE;
    }
  }
  self->control = hearth_control_new (on_control_request, self, NULL);
  if (!hearth_control_listen (self->control, socket_path, error))
    return FALSE;
  remove_leftovers (self->config->state_dir);

  g_signal_connect (self->certs, "changed", G_CALLBACK (on_certs_changed), self);
  hearth_certs_watch (self->certs);

  if (self->config->discovery_enabled) {
    const char *fingerprint = hearth_certs_get_fingerprint (self->certs);

    self->discovery = hearth_discovery_new (hearth_plugins_service_types (self->plugins),
                                            self->config->local_ranges);
    hearth_cameras_set_discovery (self->camera_set, self->discovery);
    hearth_discovery_announce (self->discovery, self->config->name,
                               hearth_http_server_get_port (self->http), fingerprint);
    announce_pairing (self);
    hearth_discovery_start (self->discovery);
  }

  if (!hearth_cameras_start (self->camera_set, error))
    return FALSE;

  g_message ("Hearth %s serving streams on port %u (state in %s, admin socket %s)",
             HEARTH_VERSION, hearth_http_server_get_port (self->http),
             self->config->state_dir, socket_path);
  if (demo && !demo_setup (self, error))
    return FALSE;
  return TRUE;
}

void
hearth_daemon_stop (HearthDaemon *self)
{
  if (self->discovery)
    hearth_discovery_stop (self->discovery);
  if (self->control)
    hearth_control_close (self->control);
  g_hash_table_remove_all (self->pair_requests);
  if (self->pairing)
    hearth_pairing_close (self->pairing);
  if (self->http)
    hearth_http_server_close (self->http);
  if (self->camera_set)
    hearth_cameras_stop (self->camera_set);
}

static void
hearth_daemon_dispose (GObject *object)
{
  HearthDaemon *self = HEARTH_DAEMON (object);

  hearth_daemon_stop (self);
  g_clear_object (&self->camera_set);
  g_clear_object (&self->discovery);
  g_clear_object (&self->control);
  g_clear_object (&self->pairing);
  g_clear_object (&self->http);
  g_clear_object (&self->access);
  g_clear_object (&self->store);
  g_clear_object (&self->plugins);
  if (self->certs != NULL)
    g_signal_handlers_disconnect_by_data (self->certs, self);
  g_clear_object (&self->certs);
  G_OBJECT_CLASS (hearth_daemon_parent_class)->dispose (object);
}

static void
hearth_daemon_finalize (GObject *object)
{
  HearthDaemon *self = HEARTH_DAEMON (object);

  g_hash_table_unref (self->cameras);
  g_hash_table_unref (self->pair_requests);
  hearth_config_free (self->config);
  G_OBJECT_CLASS (hearth_daemon_parent_class)->finalize (object);
}

static void
hearth_daemon_class_init (HearthDaemonClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hearth_daemon_dispose;
  G_OBJECT_CLASS (klass)->finalize = hearth_daemon_finalize;
}

static void
hearth_daemon_init (HearthDaemon *self)
{
  self->cameras = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         g_object_unref);
  self->pair_requests = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
      (GDestroyNotify) hearth_control_request_unref);
}

HearthDaemon *
hearth_daemon_new (HearthConfig *config)
{
  HearthDaemon *self = g_object_new (HEARTH_TYPE_DAEMON, NULL);

  self->config = config;
  return self;
}
