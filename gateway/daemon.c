/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthDaemon: hearthd's one owner of state.
 *
 * Created by main.c with an immutable HearthConfig. It owns the HearthStore,
 * the gateway's TLS identity, one HearthCamera per camera row, the stream port
 * (HearthHttpServer), HearthPairing and the admin socket (HearthControl), and
 * turns hearthctl requests into store changes. After every change that can
 * take access away (revocation, deletion, removal) it makes the stream port
 * re-check its live streams at once (invariant 4).
 */
#define G_LOG_DOMAIN "hearth-daemon"

#include "daemon.h"
#include "access.h"
#include "camera.h"
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
#define REFUSED_RETRY_SECONDS 30

struct _HearthDaemon {
  GObject parent_instance;

  HearthConfig *config;
  HearthStore *store;
  HearthAccess *access;
  GTlsCertificate *certificate;
  char *certificate_pem;
  GHashTable *cameras;          /* id → HearthCamera */
  HearthPlugins *plugins;
  HearthDiscovery *discovery;   /* NULL when [discovery] enabled = false */
  guint refused_retry_id;
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

static gboolean
load_identity (HearthDaemon *self, GError **error)
{
  g_autofree char *key_path = g_build_filename (self->config->state_dir,
                                                HEARTH_STATE_KEY_FILE, NULL);
  g_autofree char *cert_path = g_build_filename (self->config->state_dir,
                                                 HEARTH_STATE_CERT_FILE, NULL);
  g_autofree char *key_pem = NULL;
  g_autofree char *both = NULL;

  if (!g_file_test (key_path, G_FILE_TEST_EXISTS)) {
    g_autoptr (GPtrArray) ips = hearth_net_local_addresses (self->config->local_ranges);
    g_autofree char *local_name = g_strconcat (g_get_host_name (), ".local", NULL);
    const char *dns[] = { "localhost", g_get_host_name (), local_name, NULL };
    g_autofree char *cert_pem = NULL;

    g_ptr_array_add (ips, NULL);
    key_pem = hearth_pki_generate_key (error);
    if (key_pem == NULL)
      return FALSE;
    cert_pem = hearth_pki_make_server_cert (key_pem, self->config->name, dns,
                                            (const char *const *) ips->pdata,
                                            HEARTH_PKI_GATEWAY_DAYS, error);
    if (cert_pem == NULL ||
        !hearth_pki_write_private_file (cert_path, cert_pem, -1, error) ||
        !hearth_pki_write_private_file (key_path, key_pem, -1, error))
      return FALSE;
    g_message ("Made the gateway's key and certificate in %s",
               self->config->state_dir);
    g_clear_pointer (&key_pem, g_free);
  }

  if (!g_file_get_contents (cert_path, &self->certificate_pem, NULL, error) ||
      !g_file_get_contents (key_path, &key_pem, NULL, error))
    return FALSE;
  both = g_strconcat (self->certificate_pem, "\n", key_pem, NULL);
  explicit_bzero (key_pem, strlen (key_pem));
  self->certificate = g_tls_certificate_new_from_pem (both, -1, error);
  explicit_bzero (both, strlen (both));
  if (self->certificate == NULL) {
    g_prefix_error (error, "cannot load %s: ", cert_path);
    return FALSE;
  }
  return TRUE;
}

/* --- cameras ---------------------------------------------------------------------- */

static gboolean camera_admit (HearthCamera *camera, char **reason, gpointer user_data);
static void camera_quarantine (HearthDaemon *self, const HearthCameraRow *row,
                               const char *why);

/* The camera refused a TLS handshake: its certificate is not the pinned one,
 * so another device answers at its address (invariant 5). */
static void
on_camera_certificate_changed (HearthCamera *camera, const char *seen, gpointer user_data)
{
  HearthDaemon *self = user_data;
  g_autoptr (HearthCameraRow) row =
    hearth_store_camera_get (self->store, hearth_camera_get_id (camera), NULL);

  if (row != NULL)
    camera_quarantine (self, row, hearth_camera_get_last_error (camera));
}

/* The camera's driver: the one it was adopted with, else its URL's. */
static const HearthPlugin *
camera_plugin (HearthDaemon *self, const HearthCameraRow *row)
{
  const HearthPlugin *plugin = NULL;

  if (row->plugin != NULL)
    plugin = hearth_plugins_find_by_name (self->plugins, row->plugin);
  return plugin != NULL ? plugin : hearth_plugins_find_for_url (self->plugins, row->url);
}

/* Starts ingest for @row (a quarantined camera is not ingested). */
static void
camera_start (HearthDaemon *self, const HearthCameraRow *row)
{
  g_autoptr (HearthCamera) camera = NULL;
  const HearthPlugin *plugin = camera_plugin (self, row);
  g_autofree char *user = NULL;
  g_autofree char *password = NULL;

  if (row->quarantined_at != 0)
    return;
  if (plugin == NULL) {
    g_warning ("Camera %s: no plugin handles its URL; not started", row->id);
    return;
  }
  camera = hearth_camera_new (row->id, row->url);
  if (plugin->build_source != NULL)
    hearth_camera_set_source_func (camera, plugin->build_source);
  if (row->has_credentials &&
      hearth_store_camera_get_credentials (self->store, row->id, &user, &password, NULL)) {
    hearth_camera_set_credentials (camera, user, password);
    if (password != NULL)
      explicit_bzero (password, strlen (password));
  }
  hearth_camera_set_admit_func (camera, camera_admit, self, NULL);
  if (row->evidence.cert_fp != NULL)
    hearth_camera_set_pinned_certificate (camera, row->evidence.cert_fp);
  g_signal_connect (camera, "certificate-changed",
                    G_CALLBACK (on_camera_certificate_changed), self);
  hearth_camera_set_backoff (camera, self->config->camera_backoff_min_ms,
                             self->config->camera_backoff_max_ms);
  hearth_camera_set_gop_cache_bytes (camera, self->config->gop_cache_bytes);
  g_hash_table_replace (self->cameras, g_strdup (row->id), g_object_ref (camera));
  hearth_camera_start (camera);
}

static void
camera_stop (HearthDaemon *self, const char *id)
{
  HearthCamera *camera = g_hash_table_lookup (self->cameras, id);

  if (camera == NULL)
    return;
  g_signal_handlers_disconnect_by_data (camera, self);
  hearth_camera_stop (camera);
  /* Nothing cached for it outlives its ingest. */
  if (self->http != NULL)
    hearth_snapshot_cache_forget (hearth_http_server_get_snapshot_cache (self->http), id);
  g_hash_table_remove (self->cameras, id);
}

/* Stops cameras that no longer have a row (e.g. after a household deletion). */
static void
cameras_sync (HearthDaemon *self)
{
  g_autoptr (GPtrArray) rows = hearth_store_camera_list (self->store, 0, NULL);
  g_autoptr (GHashTable) keep = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer id;

  if (rows == NULL)
    return;
  for (guint i = 0; i < rows->len; i++)
    g_hash_table_add (keep, ((HearthCameraRow *) rows->pdata[i])->id);
  g_hash_table_iter_init (&iter, self->cameras);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    if (!g_hash_table_contains (keep, id))
      g_ptr_array_add (gone, g_strdup (id));
  for (guint i = 0; i < gone->len; i++)
    camera_stop (self, gone->pdata[i]);
}

/* After any change that can take access away: cut what is no longer
 * allowed first, then stop the cameras that are gone (stopping ends streams
 * cleanly, which would let their queued bytes out). */
static void
access_changed (HearthDaemon *self)
{
  hearth_http_server_recheck (self->http);
  cameras_sync (self);
}

/* Stops and starts @id again from its row: a new generation (invariant 6). */
static void
camera_restart (HearthDaemon *self, const char *id)
{
  g_autoptr (HearthCameraRow) row = hearth_store_camera_get (self->store, id, NULL);

  camera_stop (self, id);
  if (row != NULL)
    camera_start (self, row);
}

/* --- identity evidence (invariant 5) ------------------------------------------------ */

#define URL_FLAGS (G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED)

/* Host and port a camera URL connects to (parsed as the URL check parses
 * it); FALSE when it has none. */
static gboolean
url_endpoint (const char *url, char **host, guint16 *port)
{
  g_autoptr (GUri) uri = g_uri_parse (url, URL_FLAGS, NULL);
  int p;

  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return FALSE;
  p = g_uri_get_port (uri);
  if (p <= 0)
    p = g_ascii_strcasecmp (g_uri_get_scheme (uri), "rtsps") == 0 ? 322 : 554;
  *host = g_strdup (g_uri_get_host (uri));
  *port = (guint16) p;
  return TRUE;
}

/* The port @url connects to. */
static guint16
camera_url_port (const char *url)
{
  g_autofree char *host = NULL;
  guint16 port = 0;

  return url_endpoint (url, &host, &port) ? port : 0;
}

/* What a URL streams from, without credentials: "rtsp://10.0.0.2:554/x". */
static char *
url_stream (const char *url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, URL_FLAGS, NULL);
  g_autoptr (GUri) bare = NULL;
  int port;

  if (uri == NULL)
    return NULL;
  port = g_uri_get_port (uri);
  if (port <= 0)
    port = g_ascii_strcasecmp (g_uri_get_scheme (uri), "rtsps") == 0 ? 322 : 554;
  bare = g_uri_build (G_URI_FLAGS_ENCODED, g_uri_get_scheme (uri), NULL,
                      g_uri_get_host (uri), port, g_uri_get_path (uri),
                      g_uri_get_query (uri), NULL);
  return g_uri_to_string (bare);
}

/* The URL @found would be ingested with, without credentials. */
static char *found_url (HearthDaemon *self, const HearthPlugin *plugin,
                        const HearthFound *found, GError **error);

/*
 * Whether the announcement @found points at @row's stream: the URL its
 * plugin builds from it is the camera's. (An Axis camera announces its HTTP
 * port; a recorder announces one service per channel, on one address.)
 */
static gboolean
camera_at (HearthDaemon *self, const HearthCameraRow *row, const HearthFound *found)
{
  const HearthPlugin *plugin =
    hearth_plugins_best_for_service (self->plugins, &found->service, NULL);
  g_autofree char *url = plugin ? found_url (self, plugin, found, NULL) : NULL;
  g_autofree char *mine = url_stream (row->url);
  g_autofree char *theirs = url ? url_stream (url) : NULL;

  return mine != NULL && g_strcmp0 (mine, theirs) == 0;
}

/* An identifier a plugin read from TXT, if it is fit to be evidence. */
static char *
evidence_field (const char *value, gsize max)
{
  if (value == NULL || *value == '\0' || strlen (value) > max)
    return NULL;
  for (const char *p = value; *p; p++)
    if (*p < 0x21 || *p > 0x7e)
      return NULL;
  return g_strdup (value);
}

/* What @found says about the device that announced it. */
static void
evidence_of_found (const HearthPlugin *plugin, const HearthFound *found,
                   HearthCameraEvidence *out, char **model)
{
  HearthEvidence e = { NULL };

  if (plugin->extract_evidence != NULL)
    plugin->extract_evidence (&found->service, &e);
  out->mdns_type = g_strdup (found->service.type);
  out->mdns_name = g_strdup (found->service.name);
  out->txt_id = evidence_field (e.txt_id, 128);
  out->txt_serial = evidence_field (e.serial, 128);
  out->txt_mac = evidence_field (e.mac, 17);
  /* The neighbour MAC is learnt only while connected to the camera, at its
   * admission: an announcement alone makes no traffic with the device. */
  if (model != NULL)
    *model = e.model != NULL ? g_utf8_make_valid (e.model, MIN (strlen (e.model), 64)) : NULL;
  hearth_evidence_clear (&e);
}

typedef enum {
  SEEN_UNRELATED,  /* no identifier in common */
  SEEN_SAME,       /* at least one identifier in common, none different */
  SEEN_CHANGED,    /* an identifier both know differs: another device */
} Verdict;

/* Compares a camera's evidence with what was seen. A name alone proves
 * nothing: a replacement camera of the same model announces the same one. */
static Verdict
evidence_compare (const HearthCameraEvidence *adopted, const HearthCameraEvidence *seen,
                  char **why)
{
  const struct { const char *what, *was, *now; } f[] = {
    { "TXT id", adopted->txt_id, seen->txt_id },
    { "TXT serial", adopted->txt_serial, seen->txt_serial },
    { "TXT MAC", adopted->txt_mac, seen->txt_mac },
    { "MAC address", adopted->neighbour_mac, seen->neighbour_mac },
    { "certificate", adopted->cert_fp, seen->cert_fp },
  };
  guint same = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (f); i++) {
    if (f[i].was == NULL || f[i].now == NULL)
      continue;
    if (strcmp (f[i].was, f[i].now) != 0) {
      if (why != NULL)
        *why = g_strdup_printf ("its %s is now %s, not %s", f[i].what, f[i].now, f[i].was);
      return SEEN_CHANGED;
    }
    same++;
  }
  return same > 0 ? SEEN_SAME : SEEN_UNRELATED;
}

/* Adopted from an announcement that carried an identifier. */
static gboolean
camera_announces_identity (const HearthCameraRow *row)
{
  const HearthCameraEvidence *e = &row->evidence;

  return e->mdns_type != NULL &&
         (e->txt_id != NULL || e->txt_serial != NULL || e->txt_mac != NULL);
}

/* Nothing of @row is ingested or served from now on (until adopted again). */
static void
camera_quarantine (HearthDaemon *self, const HearthCameraRow *row, const char *why)
{
  g_autoptr (GError) error = NULL;

  if (row->quarantined_at != 0)
    return;
  if (!hearth_store_camera_quarantine (self->store, row->id, why, &error)) {
    g_warning ("Could not quarantine camera %s: %s", row->id, error->message);
    return;
  }
  g_warning ("Camera %s (“%s”) quarantined: %s. Nothing of it is ingested or served "
             "until it is adopted again (hearthctl camera adopt %s)",
             row->id, row->name, why, row->id);
  /* Cut what is live first (the row now says quarantined, so the choke point
   * refuses it), then stop ingest. */
  hearth_http_server_recheck (self->http);
}

/*
 * Another adopted camera than @except_id that @seen (an announcement's
 * evidence) or @mac (a neighbour MAC) belongs to: after a power cut two
 * cameras may swap addresses, and neither is then "another device".
 * (transfer full) (nullable)
 */
static HearthCameraRow *
other_camera (HearthDaemon *self, const char *except_id, const HearthCameraEvidence *seen,
              const char *mac)
{
  g_autoptr (GPtrArray) rows = hearth_store_camera_list (self->store, 0, NULL);

  for (guint i = 0; rows != NULL && i < rows->len; i++) {
    HearthCameraRow *row = rows->pdata[i];

    if (g_strcmp0 (row->id, except_id) == 0 || row->quarantined_at != 0)
      continue;
    if ((seen != NULL && evidence_compare (&row->evidence, seen, NULL) == SEEN_SAME) ||
        (mac != NULL && g_strcmp0 (row->evidence.neighbour_mac, mac) == 0))
      return g_steal_pointer (&rows->pdata[i]);
  }
  return NULL;
}

/*
 * The camera's admission gate, called once per ingest run after it connected
 * and before anything of the run reaches the stream. The neighbour table now
 * shows the MAC of the device that answered; a different one than recorded
 * means another device has the camera's address.
 */
static gboolean
camera_admit (HearthCamera *camera, char **reason, gpointer user_data)
{
  HearthDaemon *self = user_data;
  g_autoptr (HearthCameraRow) row = NULL;
  g_autoptr (HearthCameraRow) other = NULL;
  g_autofree char *host = NULL;
  g_autofree char *mac = NULL;
  g_autofree char *why = NULL;
  const HearthPlugin *plugin;
  gboolean confirmed = FALSE;
  guint16 port = 0;

  row = hearth_store_camera_get (self->store, hearth_camera_get_id (camera), NULL);
  if (row == NULL) {
    *reason = g_strdup ("the camera was removed");
    return FALSE;
  }
  if (row->quarantined_at != 0) {
    *reason = g_strdup_printf ("quarantined: %s", row->quarantine_reason);
    return FALSE;
  }
  plugin = camera_plugin (self, row);
  if (plugin != NULL && plugin->build_source != NULL)
    return TRUE;  /* its own source, no network (synthetic) */
  if (!url_endpoint (row->url, &host, &port)) {
    *reason = g_strdup ("its URL names no address");
    return FALSE;
  }

  mac = hearth_net_neighbour_mac (host);
  if (mac != NULL && row->evidence.neighbour_mac != NULL &&
      strcmp (mac, row->evidence.neighbour_mac) != 0) {
    other = other_camera (self, row->id, NULL, mac);
    if (other != NULL) {
      *reason = g_strdup_printf ("camera %s (“%s”) answers at %s now; waiting for this "
                                 "one to be announced again", other->id, other->name, host);
      return FALSE;
    }
    why = g_strdup_printf ("the device at %s has MAC address %s, not %s", host, mac,
                           row->evidence.neighbour_mac);
  }

  /* What is announced at its address right now must not contradict it, and
   * a camera adopted by its announcement must be announcing there: after a
   * camera goes away, whatever next answers at its address is only let in
   * once it proves to be the same device. */
  if (why == NULL && self->discovery != NULL &&
      hearth_discovery_is_running (self->discovery)) {
    g_autoptr (GPtrArray) found = hearth_discovery_list (self->discovery);

    for (guint i = 0; why == NULL && other == NULL && i < found->len; i++) {
      HearthFound *f = found->pdata[i];
      const HearthPlugin *p;
      HearthCameraEvidence seen = { NULL };
      g_autofree char *changed = NULL;

      if (!camera_at (self, row, f) ||
          !(p = hearth_plugins_best_for_service (self->plugins, &f->service, NULL)))
        continue;
      evidence_of_found (p, f, &seen, NULL);
      switch (evidence_compare (&row->evidence, &seen, &changed)) {
      case SEEN_CHANGED:
        other = other_camera (self, row->id, &seen, NULL);
        if (other == NULL)
          why = g_strdup_printf ("another device announces itself at %s port %u: %s",
                                 host, port, changed);
        break;
      case SEEN_SAME:
        confirmed = TRUE;
        break;
      case SEEN_UNRELATED:
      default:
        break;
      }
      hearth_camera_evidence_clear (&seen);
    }
    if (other != NULL) {
      *reason = g_strdup_printf ("camera %s (“%s”) announces itself at %s now; waiting "
                                 "for this one to be announced again", other->id,
                                 other->name, host);
      return FALSE;
    }
    if (why == NULL && !confirmed && camera_announces_identity (row)) {
      *reason = g_strdup ("waiting for its mDNS announcement to confirm it is the same "
                          "device");
      return FALSE;
    }
  }

  if (why != NULL) {
    camera_quarantine (self, row, why);
    *reason = g_strdup_printf ("quarantined: %s", why);
    return FALSE;
  }

  /* Trust on first use: remember the certificate (and pin it for the rest of
   * this camera's runs) and the MAC that answered the first time. */
  if (hearth_camera_get_peer_certificate (camera) != NULL && row->evidence.cert_fp == NULL) {
    g_autoptr (GError) error = NULL;
    const char *cert = hearth_camera_get_peer_certificate (camera);

    if (!hearth_store_camera_add_evidence (self->store, row->id, NULL, cert, &error))
      g_warning ("Could not record camera %s's certificate: %s", row->id, error->message);
    hearth_camera_set_pinned_certificate (camera, cert);
  }
  if (mac != NULL && row->evidence.neighbour_mac == NULL) {
    g_autoptr (GError) error = NULL;

    if (!hearth_store_camera_add_evidence (self->store, row->id, mac, NULL, &error))
      g_warning ("Could not record camera %s's MAC address: %s", row->id, error->message);
  }
  return TRUE;
}

/* --- discovery ---------------------------------------------------------------------- */

/* The URL to ingest @found with @plugin, checked to be local (invariant 7). */
static char *
found_url (HearthDaemon *self, const HearthPlugin *plugin, const HearthFound *found,
           GError **error)
{
  g_autofree char *url = NULL;

  if (plugin->build_url == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "the %s plugin cannot build a URL for a discovered camera", plugin->name);
    return NULL;
  }
  url = plugin->build_url (&found->service, error);
  if (url == NULL)
    return NULL;
  return hearth_camera_url_check (url, self->config->local_ranges, error);
}

/* Another camera than @except_id that streams from @url. (nullable) */
static HearthCameraRow *
camera_with_url (HearthDaemon *self, const char *except_id, const char *url)
{
  g_autoptr (GPtrArray) rows = hearth_store_camera_list (self->store, 0, NULL);
  g_autofree char *want = url_stream (url);

  for (guint i = 0; want != NULL && rows != NULL && i < rows->len; i++) {
    HearthCameraRow *row = rows->pdata[i];
    g_autofree char *have = url_stream (row->url);

    if (g_strcmp0 (row->id, except_id) != 0 && g_strcmp0 (have, want) == 0)
      return g_steal_pointer (&rows->pdata[i]);
  }
  return NULL;
}

typedef struct {
  HearthDaemon *self;   /* a reference */
  char *id;
  char *url;
  char *address;
} FollowProbe;

static void
follow_probe_free (FollowProbe *probe)
{
  g_object_unref (probe->self);
  g_free (probe->id);
  g_free (probe->url);
  g_free (probe->address);
  g_free (probe);
}

/* The probe connected (or not): follow if the MAC there is the camera's. */
static void
on_follow_probe (GObject *source, GAsyncResult *result, gpointer user_data)
{
  FollowProbe *probe = user_data;
  HearthDaemon *self = probe->self;
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (HearthCameraRow) row = NULL;
  g_autoptr (HearthCameraRow) taken = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *mac = NULL;
  g_autofree char *shown = NULL;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection != NULL) {
    mac = hearth_net_neighbour_mac (probe->address);
    g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  }
  if (self->store == NULL ||
      !(row = hearth_store_camera_get (self->store, probe->id, NULL)) ||
      row->quarantined_at != 0) {
    follow_probe_free (probe);
    return;
  }
  shown = url_stream (probe->url);
  /* Another camera's URL may be taken over only on proof that the device
   * there is this one (two cameras that swapped addresses: the other one is
   * followed in turn when its own announcement is seen). */
  taken = camera_with_url (self, row->id, probe->url);
  if (taken != NULL && (row->evidence.neighbour_mac == NULL ||
                        g_strcmp0 (taken->evidence.neighbour_mac, mac) == 0)) {
    g_warning ("Camera %s (“%s”) announces itself at %s, where camera %s streams from: "
               "not followed", row->id, row->name, shown, taken->id);
  } else if (row->evidence.neighbour_mac != NULL &&
             g_strcmp0 (mac, row->evidence.neighbour_mac) != 0) {
    g_warning ("Camera %s (“%s”) is announced at %s, but the device there has MAC "
               "address %s, not %s: not followed", row->id, row->name, shown,
               mac ? mac : "(none: it did not answer)", row->evidence.neighbour_mac);
  } else if (!hearth_store_camera_follow (self->store, row->id, probe->url, &error)) {
    g_warning ("Camera %s cannot be followed to %s: %s", row->id, shown, error->message);
  } else {
    g_message ("Camera %s (“%s”) now answers at %s: following it", row->id, row->name, shown);
    camera_restart (self, row->id);
  }
  follow_probe_free (probe);
}

/*
 * The same camera (by its announcement) at another address. An announcement
 * is not proof: before the camera's URL (and so its credentials) goes to the
 * new address, a bare TCP connection there shows the device's MAC, which
 * must be the one recorded. A camera whose MAC was never seen (behind a
 * router) is followed only when it has no credentials to give away.
 */
static void
camera_follow (HearthDaemon *self, const HearthCameraRow *row, const HearthFound *found)
{
  const HearthPlugin *plugin = camera_plugin (self, row);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketClient) client = NULL;
  g_autofree char *url = NULL;
  FollowProbe *probe;

  if (plugin == NULL || !(url = found_url (self, plugin, found, &error))) {
    g_warning ("Camera %s moved to %s but cannot be followed: %s", row->id,
               found->service.address, error ? error->message : "no plugin");
    return;
  }
  if (row->evidence.neighbour_mac == NULL && row->has_credentials) {
    g_warning ("Camera %s (“%s”) is announced at %s, but nothing proves it is the same "
               "device and it has credentials: not followed (adopt it again to accept "
               "the new address)", row->id, row->name, found->service.address);
    return;
  }
  probe = g_new0 (FollowProbe, 1);
  probe->self = g_object_ref (self);
  probe->id = g_strdup (row->id);
  probe->url = g_steal_pointer (&url);
  probe->address = g_strdup (found->service.address);
  client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 5);
  g_socket_client_connect_to_host_async (client, found->service.address,
                                         camera_url_port (probe->url), NULL,
                                         on_follow_probe, probe);
}

/* The adopted camera @found is, by its evidence or its service; NULL if none. */
static HearthCameraRow *
found_camera (HearthDaemon *self, const HearthFound *found, const HearthCameraEvidence *seen)
{
  g_autoptr (GPtrArray) rows = hearth_store_camera_list (self->store, 0, NULL);

  for (guint i = 0; rows != NULL && i < rows->len; i++) {
    HearthCameraRow *row = rows->pdata[i];

    if (evidence_compare (&row->evidence, seen, NULL) == SEEN_SAME ||
        (camera_at (self, row, found) &&
         g_strcmp0 (row->evidence.mdns_name, found->service.name) == 0 &&
         g_strcmp0 (row->evidence.mdns_type, found->service.type) == 0))
      return g_steal_pointer (&rows->pdata[i]);
  }
  return NULL;
}

static char *adopt_found (HearthDaemon *self, const HearthFound *found,
                          const char *household, const char *name,
                          const char *user, const char *password, GError **error);

static void
on_found (HearthDiscovery *discovery, HearthFound *found, gpointer user_data)
{
  HearthDaemon *self = user_data;
  const HearthPlugin *plugin;
  HearthCameraEvidence seen = { NULL };
  g_autoptr (GPtrArray) rows = NULL;
  gboolean known = FALSE;

  plugin = hearth_plugins_best_for_service (self->plugins, &found->service, NULL);
  if (plugin == NULL)
    return;
  evidence_of_found (plugin, found, &seen, NULL);
  rows = hearth_store_camera_list (self->store, 0, NULL);
  for (guint i = 0; rows != NULL && i < rows->len; i++) {
    HearthCameraRow *row = rows->pdata[i];
    g_autofree char *why = NULL;
    Verdict verdict = evidence_compare (&row->evidence, &seen, &why);
    gboolean here = camera_at (self, row, found);

    if (verdict == SEEN_SAME ||
        (here && g_strcmp0 (row->evidence.mdns_name, found->service.name) == 0))
      known = TRUE;
    if (row->quarantined_at != 0)
      continue;
    if (verdict == SEEN_CHANGED && here) {
      g_autoptr (HearthCameraRow) other = other_camera (self, row->id, &seen, NULL);
      g_autofree char *reason = g_strdup_printf (
          "another device announces itself at its address: %s", why);

      /* Another adopted camera there (addresses swapped) is followed by its
       * own row; this one waits for its announcement elsewhere. */
      if (other == NULL) {
        camera_quarantine (self, row, reason);
        camera_stop (self, row->id);
      }
    } else if (verdict == SEEN_SAME && !here) {
      camera_follow (self, row, found);
    } else if (verdict == SEEN_SAME) {
      /* Its announcement confirms it: resume if the gate was waiting for it. */
      HearthCamera *camera = g_hash_table_lookup (self->cameras, row->id);

      if (camera != NULL && hearth_camera_get_state (camera) == HEARTH_CAMERA_REFUSED)
        camera_restart (self, row->id);
    }
  }

  if (!known) {
    g_message ("Discovered camera “%s” (%s, %s plugin) at %s — adopt it with: "
               "hearthctl camera adopt %s --household NAME",
               found->service.name, found->service.type, plugin->name,
               found->service.address, found->key);
    if (*self->config->auto_adopt_household != '\0') {
      g_autoptr (GError) error = NULL;
      g_autofree char *id = adopt_found (self, found, self->config->auto_adopt_household,
                                         NULL, NULL, NULL, &error);

      if (id == NULL)
        g_warning ("Could not auto-adopt camera “%s”: %s", found->service.name,
                   error->message);
    }
  }
  hearth_camera_evidence_clear (&seen);
}

static void
on_lost (HearthDiscovery *discovery, HearthFound *found, gpointer user_data)
{
  HearthDaemon *self = user_data;
  const HearthPlugin *plugin;
  HearthCameraEvidence seen = { NULL };
  g_autoptr (HearthCameraRow) row = NULL;

  plugin = hearth_plugins_best_for_service (self->plugins, &found->service, NULL);
  if (plugin == NULL)
    return;
  evidence_of_found (plugin, found, &seen, NULL);
  row = found_camera (self, found, &seen);
  if (row != NULL)
    g_message ("Camera %s (“%s”) withdrew its mDNS announcement", row->id, row->name);
  hearth_camera_evidence_clear (&seen);
}

/*
 * Adopts the discovered service @found into @household. @name NULL: its
 * instance name. Returns the new camera's UUID. (transfer full)
 */
static char *
adopt_found (HearthDaemon *self, const HearthFound *found, const char *household,
             const char *name, const char *user, const char *password, GError **error)
{
  const HearthPlugin *plugin;
  HearthCameraEvidence seen = { NULL };
  g_autoptr (HearthCameraRow) existing = NULL;
  g_autoptr (HearthHousehold) h = NULL;
  g_autoptr (HearthCameraRow) row = NULL;
  g_autofree char *url = NULL;
  g_autofree char *id = NULL;
  g_autofree char *fallback = NULL;

  plugin = hearth_plugins_best_for_service (self->plugins, &found->service, NULL);
  if (plugin == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "no plugin takes %s services", found->service.type);
    return NULL;
  }
  url = found_url (self, plugin, found, error);
  if (url == NULL)
    return NULL;
  evidence_of_found (plugin, found, &seen, NULL);
  existing = found_camera (self, found, &seen);
  if (existing == NULL)
    existing = camera_with_url (self, NULL, url);
  if (existing != NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
                 "this camera is already adopted as %s (“%s”)%s", existing->id,
                 existing->name,
                 existing->quarantined_at ? "; it is quarantined: adopt that id again" : "");
    hearth_camera_evidence_clear (&seen);
    return NULL;
  }
  h = hearth_store_household_get_by_name (self->store, household, error);
  if (h != NULL) {
    if (name == NULL)
      name = fallback = g_utf8_make_valid (found->service.name, -1);
    id = hearth_store_camera_adopt (self->store, h->id, name, url, plugin->name, &seen,
                                    user, password, error);
  }
  hearth_camera_evidence_clear (&seen);
  if (id == NULL || !(row = hearth_store_camera_get (self->store, id, error)))
    return NULL;
  camera_start (self, row);
  g_message ("Camera %s (“%s”, %s) adopted into household “%s”", id, row->name,
             found->service.type, household);
  return g_steal_pointer (&id);
}

/* Adopts the quarantined (or any) camera @row again, with what is seen now. */
static gboolean
readopt (HearthDaemon *self, const HearthCameraRow *row, GError **error)
{
  g_autoptr (GPtrArray) found = self->discovery ? hearth_discovery_list (self->discovery)
                                                : g_ptr_array_new ();
  HearthCameraEvidence seen = { NULL };
  g_autofree char *url = g_strdup (row->url);
  gboolean ok;

  /* Prefer its own service, else whatever announces at its address. */
  for (guint pass = 0; pass < 2 && seen.mdns_type == NULL; pass++) {
    for (guint i = 0; i < found->len; i++) {
      HearthFound *f = found->pdata[i];
      const HearthPlugin *plugin = camera_plugin (self, row);
      g_autofree char *new_url = NULL;
      gboolean match = pass == 0
        ? (g_strcmp0 (row->evidence.mdns_name, f->service.name) == 0 &&
           g_strcmp0 (row->evidence.mdns_type, f->service.type) == 0)
        : camera_at (self, row, f);

      if (!match || plugin == NULL || !(new_url = found_url (self, plugin, f, NULL)))
        continue;
      evidence_of_found (plugin, f, &seen, NULL);
      g_free (url);
      url = g_steal_pointer (&new_url);
      break;
    }
  }
  if (seen.mdns_type == NULL) {
    /* Not announced: keep what TXT said; learn MAC and certificate again. */
    seen.mdns_type = g_strdup (row->evidence.mdns_type);
    seen.mdns_name = g_strdup (row->evidence.mdns_name);
    seen.txt_id = g_strdup (row->evidence.txt_id);
    seen.txt_serial = g_strdup (row->evidence.txt_serial);
    seen.txt_mac = g_strdup (row->evidence.txt_mac);
  }
  ok = hearth_store_camera_readopt (self->store, row->id, url, &seen, error);
  hearth_camera_evidence_clear (&seen);
  if (ok) {
    g_message ("Camera %s (“%s”) adopted again", row->id, row->name);
    camera_restart (self, row->id);
  }
  return ok;
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
  g_autofree char *fingerprint = hearth_pki_fingerprint_pem (self->certificate_pem, NULL);
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
  camera_start (self, row);
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

static void
add_string_or_null (JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name (b, member);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

/* States for people: adopted (not streaming yet), streaming, offline,
 * quarantined; with the reason where there is one. */
static const char *
camera_state_for_list (const HearthCameraRow *row, HearthCamera *camera,
                       const char **reason)
{
  *reason = NULL;
  if (row->quarantined_at != 0) {
    *reason = row->quarantine_reason;
    return "quarantined";
  }
  if (camera == NULL)
    return "adopted";
  switch (hearth_camera_get_state (camera)) {
  case HEARTH_CAMERA_STREAMING:
    return "streaming";
  case HEARTH_CAMERA_OFFLINE:
  case HEARTH_CAMERA_REFUSED:
    *reason = hearth_camera_get_last_error (camera);
    return "offline";
  case HEARTH_CAMERA_CONNECTING:
  case HEARTH_CAMERA_STOPPED:
  default:
    return "adopted";
  }
}

/* Whether a service announcing @row is resolved now. */
static gboolean
camera_announced (HearthDaemon *self, const HearthCameraRow *row)
{
  g_autoptr (GPtrArray) found = NULL;
  gboolean announced = FALSE;

  if (self->discovery == NULL || row->evidence.mdns_type == NULL)
    return FALSE;
  found = hearth_discovery_list (self->discovery);
  for (guint i = 0; !announced && i < found->len; i++) {
    HearthFound *f = found->pdata[i];
    const HearthPlugin *plugin =
      hearth_plugins_best_for_service (self->plugins, &f->service, NULL);
    HearthCameraEvidence seen = { NULL };

    if (plugin == NULL)
      continue;
    evidence_of_found (plugin, f, &seen, NULL);
    announced = evidence_compare (&row->evidence, &seen, NULL) == SEEN_SAME ||
                (!camera_announces_identity (row) &&
                 g_strcmp0 (row->evidence.mdns_name, f->service.name) == 0 &&
                 g_strcmp0 (row->evidence.mdns_type, f->service.type) == 0);
    hearth_camera_evidence_clear (&seen);
  }
  return announced;
}

static JsonNode *
list_discovered (HearthDaemon *self)
{
  g_autoptr (GPtrArray) found = self->discovery ? hearth_discovery_list (self->discovery)
                                                : g_ptr_array_new ();
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "discovery");
  json_builder_add_string_value (b, self->discovery == NULL ? "off"
                                 : hearth_discovery_is_running (self->discovery)
                                 ? "running" : "no avahi-daemon");
  json_builder_set_member_name (b, "cameras");
  json_builder_begin_array (b);
  for (guint i = 0; i < found->len; i++) {
    HearthFound *f = found->pdata[i];
    const HearthPlugin *plugin =
      hearth_plugins_best_for_service (self->plugins, &f->service, NULL);
    HearthCameraEvidence seen = { NULL };
    g_autoptr (HearthCameraRow) adopted = NULL;
    g_autofree char *model = NULL;
    g_autofree char *address = NULL;
    g_autofree char *name = g_utf8_make_valid (f->service.name, -1);

    if (plugin == NULL)
      continue;
    evidence_of_found (plugin, f, &seen, &model);
    adopted = found_camera (self, f, &seen);
    address = hearth_format_host_port (f->service.address, f->service.port);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_string_value (b, f->key);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, name);
    add_string_or_null (b, "model", model);
    json_builder_set_member_name (b, "address");
    json_builder_add_string_value (b, address);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, f->service.type);
    json_builder_set_member_name (b, "plugin");
    json_builder_add_string_value (b, plugin->name);
    json_builder_set_member_name (b, "state");
    json_builder_add_string_value (b, adopted == NULL ? "discovered"
                                   : adopted->quarantined_at ? "quarantined" : "adopted");
    add_string_or_null (b, "camera", adopted ? adopted->id : NULL);
    json_builder_end_object (b);
    hearth_camera_evidence_clear (&seen);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return builder_result (b);
}

static JsonNode *
method_camera_list (HearthDaemon *self, HearthControlRequest *req, GError **error)
{
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (hearth_control_request_get_int (req, "discovered", 0) != 0)
    return list_discovered (self);
  rows = hearth_store_camera_list (self->store, 0, error);
  if (rows == NULL)
    return NULL;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "cameras");
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++) {
    HearthCameraRow *row = rows->pdata[i];
    HearthCamera *camera = g_hash_table_lookup (self->cameras, row->id);
    g_autofree char *url = hearth_url_redact (row->url);
    const char *reason;
    const char *state = camera_state_for_list (row, camera, &reason);
    const HearthPlugin *plugin = camera_plugin (self, row);

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_string_value (b, row->id);
    json_builder_set_member_name (b, "household");
    json_builder_add_string_value (b, row->household);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, row->name);
    json_builder_set_member_name (b, "url");
    json_builder_add_string_value (b, url);
    add_string_or_null (b, "plugin", plugin ? plugin->name : NULL);
    json_builder_set_member_name (b, "state");
    json_builder_add_string_value (b, state);
    add_string_or_null (b, "reason", reason);
    json_builder_set_member_name (b, "announced");
    json_builder_add_boolean_value (b, camera_announced (self, row));
    json_builder_set_member_name (b, "evidence");
    json_builder_begin_object (b);
    add_string_or_null (b, "mdns_type", row->evidence.mdns_type);
    add_string_or_null (b, "mdns_name", row->evidence.mdns_name);
    add_string_or_null (b, "txt_id", row->evidence.txt_id);
    add_string_or_null (b, "txt_serial", row->evidence.txt_serial);
    add_string_or_null (b, "txt_mac", row->evidence.txt_mac);
    add_string_or_null (b, "mac", row->evidence.neighbour_mac);
    add_string_or_null (b, "certificate", row->evidence.cert_fp);
    json_builder_end_object (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return builder_result (b);
}

/* camera.adopt: a discovered service (its key) into a household, or a
 * quarantined camera (its UUID) again. */
static JsonNode *
method_camera_adopt (HearthDaemon *self, HearthControlRequest *req, GError **error)
{
  const char *id = hearth_control_request_get_string (req, "id", error);
  const char *household = param_string (req, "household");
  const char *name = param_string (req, "name");
  const char *user = param_string (req, "user");
  const char *password = param_string (req, "password");
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *camera_id = NULL;
  HearthFound *found;

  if (id == NULL)
    return NULL;
  if (password != NULL && user == NULL) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "a password needs a user name");
    return NULL;
  }
  if (g_uuid_string_is_valid (id)) {
    g_autoptr (HearthCameraRow) row = NULL;

    if (household != NULL || name != NULL || user != NULL) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                           "adopting an adopted camera again takes no household, name or "
                           "credentials: it keeps its own (hearthctl camera move to "
                           "change its household)");
      return NULL;
    }
    row = hearth_store_camera_get (self->store, id, error);

    if (row == NULL || !readopt (self, row, error))
      return NULL;
    camera_id = g_strdup (id);
  } else {
    found = self->discovery ? hearth_discovery_lookup (self->discovery, id) : NULL;
    if (found == NULL) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                   "no discovered camera “%s” (see hearthctl camera list --discovered)",
                   id);
      return NULL;
    }
    if (household == NULL) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                           "say which household adopts the camera (--household)");
      return NULL;
    }
    camera_id = adopt_found (self, found, household, name, user, password, error);
    if (camera_id == NULL)
      return NULL;
  }
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
  if (to == NULL || !hearth_store_camera_move (self->store, id, to->id, error))
    return NULL;
  access_changed (self);
  camera_stop (self, id);
  row = hearth_store_camera_get (self->store, id, error);
  if (row == NULL)
    return NULL;
  camera_start (self, row);
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
 * streams run) together with the gateway's key and certificate, so that a
 * restored gateway keeps the identity its displays pinned. It is made in a
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
  static const char *const carried[] = { HEARTH_STATE_KEY_FILE, HEARTH_STATE_CERT_FILE };
  g_autoptr (GHashTable) files = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                        (GDestroyNotify) g_bytes_unref);
  g_autofree char *tmp = g_build_filename (self->config->state_dir, "backup-XXXXXX",
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
                                        &window_id, &expires, error);
  if (payload == NULL)
    return NULL;
  g_message ("Pairing window %" G_GINT64_FORMAT " open for household “%s” for %"
             G_GINT64_FORMAT " s", window_id, household, ttl);
  g_hash_table_insert (self->pair_requests, g_memdup2 (&window_id, sizeof window_id),
                       hearth_control_request_ref (req));

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "payload");
  json_builder_add_string_value (b, payload);
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

/* Cameras the gate sent away without quarantine (waiting for their
 * announcement, or another adopted camera at their address) ask again now and
 * then, in case what they waited for happened unannounced. */
static gboolean
on_refused_retry (gpointer user_data)
{
  HearthDaemon *self = user_data;
  g_autoptr (GPtrArray) refused = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer id, camera;

  g_hash_table_iter_init (&iter, self->cameras);
  while (g_hash_table_iter_next (&iter, &id, &camera))
    if (hearth_camera_get_state (camera) == HEARTH_CAMERA_REFUSED)
      g_ptr_array_add (refused, g_strdup (id));
  for (guint i = 0; i < refused->len; i++)
    camera_restart (self, refused->pdata[i]);
  return G_SOURCE_CONTINUE;
}

/* --- start and stop -------------------------------------------------------------- */

static gboolean
demo_setup (HearthDaemon *self, GError **error)
{
  g_autoptr (HearthHousehold) home = NULL;
  g_autoptr (GPtrArray) cameras = NULL;
  g_autofree char *payload = NULL;
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
    camera_start (self, row);
    g_message ("Demo camera %s added to household “%s”", id, DEMO_HOUSEHOLD);
  }

  payload = hearth_pairing_open_window (self->pairing, DEMO_HOUSEHOLD,
                                        self->config->pairing_ttl, NULL, &expires,
                                        error);
  if (payload == NULL)
    return FALSE;
  qr = hearth_qr_render_terminal (payload, error);
  if (qr == NULL)
    return FALSE;
  g_print ("\nScan this with a display to pair it with household “%s”\n"
           "(or run: hearth-display pair '%s')\n\n%s\n"
           "The code works once and expires in %u minutes.\n\n",
           DEMO_HOUSEHOLD, payload, qr, self->config->pairing_ttl / 60);
  return TRUE;
}

gboolean
hearth_daemon_start (HearthDaemon *self, gboolean demo, GError **error)
{
  g_autofree char *db_path = NULL;
  g_autofree char *socket_path = NULL;
  g_autoptr (GPtrArray) rows = NULL;

  if (!ensure_private_dir (self->config->state_dir, error))
    return FALSE;
  db_path = g_build_filename (self->config->state_dir, HEARTH_STATE_DB_FILE,
                             NULL);
  self->store = hearth_store_open (db_path, error);
  if (self->store == NULL)
    return FALSE;
  if (!load_identity (self, error))
    return FALSE;
  self->plugins = hearth_plugins_load (self->config->plugin_dir
                                       ? self->config->plugin_dir
                                       : hearth_plugins_default_dir (), error);
  if (self->plugins == NULL)
    return FALSE;

  self->access = hearth_access_new (self->store, self->config->local_ranges);
  self->http = hearth_http_server_new (self->access, self->cameras, self->config);
  if (!hearth_http_server_listen (self->http, self->certificate,
                                  self->config->listen, error))
    return FALSE;

  self->pairing = hearth_pairing_new (self->store, self->access, self->config,
                                      self->certificate, self->certificate_pem);
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
  self->control = hearth_control_new (on_control_request, self, NULL);
  if (!hearth_control_listen (self->control, socket_path, error))
    return FALSE;

  if (self->config->discovery_enabled) {
    g_autofree char *fingerprint = hearth_pki_fingerprint_pem (self->certificate_pem,
                                                               NULL);

    self->discovery = hearth_discovery_new (hearth_plugins_service_types (self->plugins),
                                            self->config->local_ranges);
    g_signal_connect (self->discovery, "found", G_CALLBACK (on_found), self);
    g_signal_connect (self->discovery, "lost", G_CALLBACK (on_lost), self);
    hearth_discovery_announce (self->discovery, self->config->name,
                               hearth_http_server_get_port (self->http), fingerprint);
    announce_pairing (self);
    hearth_discovery_start (self->discovery);
  }

  rows = hearth_store_camera_list (self->store, 0, error);
  if (rows == NULL)
    return FALSE;
  for (guint i = 0; i < rows->len; i++)
    camera_start (self, rows->pdata[i]);
  self->refused_retry_id = g_timeout_add_seconds (REFUSED_RETRY_SECONDS, on_refused_retry,
                                                  self);

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
  GHashTableIter iter;
  gpointer camera;

  g_clear_handle_id (&self->refused_retry_id, g_source_remove);
  if (self->discovery)
    hearth_discovery_stop (self->discovery);
  if (self->control)
    hearth_control_close (self->control);
  g_hash_table_remove_all (self->pair_requests);
  if (self->pairing)
    hearth_pairing_close (self->pairing);
  if (self->http)
    hearth_http_server_close (self->http);
  g_hash_table_iter_init (&iter, self->cameras);
  while (g_hash_table_iter_next (&iter, NULL, &camera)) {
    g_signal_handlers_disconnect_by_data (camera, self);
    hearth_camera_stop (camera);
  }
  g_hash_table_remove_all (self->cameras);
}

static void
hearth_daemon_dispose (GObject *object)
{
  HearthDaemon *self = HEARTH_DAEMON (object);

  hearth_daemon_stop (self);
  g_clear_object (&self->discovery);
  g_clear_object (&self->control);
  g_clear_object (&self->pairing);
  g_clear_object (&self->http);
  g_clear_object (&self->access);
  g_clear_object (&self->store);
  g_clear_object (&self->plugins);
  g_clear_object (&self->certificate);
  G_OBJECT_CLASS (hearth_daemon_parent_class)->dispose (object);
}

static void
hearth_daemon_finalize (GObject *object)
{
  HearthDaemon *self = HEARTH_DAEMON (object);

  g_hash_table_unref (self->cameras);
  g_hash_table_unref (self->pair_requests);
  g_free (self->certificate_pem);
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
