/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthDaemon: hearthd's one owner of state.
 *
 * Created by main.c with an immutable HearthConfig. It owns the HearthStore,
 * the gateway's TLS identity, the camera plugins, the cameras' ingest and
 * identity (HearthCameras, which owns the camera table), mDNS
 * (HearthDiscovery), the stream port (HearthHttpServer, given the
 * HearthCameras it serves and follows), HearthPairing, and the admin socket
 * (HearthControl) with its methods (HearthAdmin, admin.c, which turns
 * hearthctl requests into store changes); it creates them, connects them,
 * starts and stops them. Runs on the main context.
 */
#define G_LOG_DOMAIN "hearth-daemon"

#include "daemon.h"
#include "access.h"
#include "admin.h"
#include "cameras.h"
#include "certs.h"
#include "control.h"
#include "discovery.h"
#include "plugin-discovery.h"
#include "error.h"
#include "http-server.h"
#include "pairing.h"
#include "plugins.h"
#include "qr.h"
#include "restore.h"
#include "store.h"

#include "hearth-config.h"

#include <errno.h>
#include <glib/gstdio.h>

#define DEMO_HOUSEHOLD "Home"
#define DEMO_CAMERA_URL "synthetic:"

struct _HearthDaemon {
  GObject parent_instance;

  HearthConfig *config;
  HearthStore *store;
  HearthAccess *access;
  HearthCerts *certs;           /* the root CA and the server certificate */
  HearthPlugins *plugins;
  HearthCameras *camera_set;    /* the cameras' ingest and identity */
  HearthDiscovery *discovery;   /* NULL when [discovery] enabled = false */
  HearthPluginDiscovery *plugin_discovery;  /* the plugins' own (ONVIF); with discovery */
  HearthHttpServer *http;
  HearthPairing *pairing;
  HearthControl *control;
  HearthAdmin *admin;           /* the admin socket's methods */
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
 * directory: the temporary copy a backup is made in (admin.c) with its
 * SQLite journal, and the temporary files of hearth_pki_write_private_file().
 * They may hold keys, and no later run would use them. Removed once this
 * daemon holds the admin socket: no other hearthd serves the directory then.
 */
static const char *const leftover_patterns[] = {
  HEARTH_ADMIN_BACKUP_TMP_GLOB, "*.key.tmp-??????", "*.crt.tmp-??????", "*.key.new.tmp-??????",
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

/* The pairing port is announced only while a window is open. */
static void
announce_pairing (HearthDaemon *self)
{
  if (self->discovery != NULL && self->pairing != NULL)
    hearth_discovery_set_pairing_port (self->discovery,
                                       hearth_pairing_get_port (self->pairing));
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
    if (hearth_admin_household_add (self->admin, DEMO_HOUSEHOLD, error) == 0)
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

  if (!ensure_private_dir (self->config->state_dir, error) ||
      !hearth_restore_recover (self->config->state_dir, error))
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
  self->camera_set = hearth_cameras_new (self->config, self->store, self->plugins);
  self->http = hearth_http_server_new (self->access, self->camera_set, self->config);
  if (!hearth_http_server_listen (self->http, hearth_certs_get_certificate (self->certs),
                                  self->config->listen, error))
    return FALSE;

  self->pairing = hearth_pairing_new (self->store, self->access, self->config,
                                      hearth_certs_get_certificate (self->certs),
                                      hearth_certs_get_ca_pem (self->certs));
  hearth_pairing_set_stream_port (self->pairing,
                                  hearth_http_server_get_port (self->http));
  self->admin = hearth_admin_new (self->config, self->store, self->certs, self->http,
                                  self->pairing, self->camera_set);
  g_signal_connect_swapped (self->pairing, "listener-changed",
                            G_CALLBACK (announce_pairing), self);
  if (!hearth_pairing_start (self->pairing, error))
    return FALSE;

  socket_path = hearth_config_get_control_socket (self->config);
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
  self->control = hearth_control_new (hearth_admin_handle_request, self->admin, NULL);
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
    hearth_admin_set_discovery (self->admin, self->discovery);
    hearth_discovery_announce (self->discovery, self->config->name,
                               hearth_http_server_get_port (self->http), fingerprint);
    announce_pairing (self);
    hearth_discovery_start (self->discovery);
    self->plugin_discovery = hearth_plugin_discovery_new (self->plugins, self->discovery,
                                                          self->config->local_ranges);
    hearth_plugin_discovery_start (self->plugin_discovery);
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
  if (self->plugin_discovery)
    hearth_plugin_discovery_stop (self->plugin_discovery);
  if (self->discovery)
    hearth_discovery_stop (self->discovery);
  if (self->control)
    hearth_control_close (self->control);
  if (self->admin)
    hearth_admin_stop (self->admin);
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
  g_clear_object (&self->plugin_discovery);
  g_clear_object (&self->discovery);
  g_clear_object (&self->control);
  g_clear_object (&self->admin);
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
}

HearthDaemon *
hearth_daemon_new (HearthConfig *config)
{
  HearthDaemon *self = g_object_new (HEARTH_TYPE_DAEMON, NULL);

  self->config = config;
  return self;
}
