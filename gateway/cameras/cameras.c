/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthCameras: the adopted cameras' ingest and identity (invariant 5).
 *
 * Owned by the daemon. Runs one HearthCamera per camera row (with its
 * plugin's source, its stored credentials and its pinned certificate), and is
 * the only code that decides whether what answers at a camera's address is
 * that camera:
 *
 *   - every ingest run passes camera_admit() after it connected and before
 *     its first byte reaches the stream: the MAC that answered (REACHABLE
 *     neighbour entry), what is announced at the address, the certificate;
 *   - mDNS announcements (HearthDiscovery "found") that show other evidence
 *     at a camera's address quarantine it; the same evidence at a new
 *     address is followed once a bare connection there shows the MAC;
 *   - adoption of discovered services, and adopting a quarantined camera
 *     again.
 *
 * A quarantined camera is not ingested, and the choke point (access.c)
 * refuses it, so nothing of it is served until the admin adopts it again.
 *
 * It owns the id → HearthCamera table and knows nothing of who serves the
 * cameras: the stream port looks cameras up (hearth_cameras_lookup) and
 * follows "access-changed" (re-check what is served) and "camera-removed"
 * (forget what is cached). access_changed() is the one place that says in
 * which order access is taken away. Runs on the main context.
 */
#define G_LOG_DOMAIN "hearth-cameras"

#include "cameras.h"
#include "camera.h"
#include "error.h"

#include <string.h>

struct _HearthCameras {
  GObject parent_instance;

  const HearthConfig *config;   /* the daemon's, outlives us */
  HearthStore *store;
  HearthPlugins *plugins;
  GHashTable *cameras;          /* id → HearthCamera (a reference) */
  HearthDiscovery *discovery;   /* (nullable) */
  guint refused_retry_id;
};

G_DEFINE_TYPE (HearthCameras, hearth_cameras, G_TYPE_OBJECT)

enum {
  SIGNAL_ACCESS_CHANGED,
  SIGNAL_CAMERA_REMOVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* --- ingest ---------------------------------------------------------------------- */

static gboolean camera_admit (HearthCamera *camera, char **reason, gpointer user_data);
static void camera_quarantine (HearthCameras *self, const HearthCameraRow *row,
                               const char *why, gboolean stop);
static HearthCameraRow *other_camera (HearthCameras *self, const char *except_id,
                                      const HearthCameraEvidence *seen, const char *mac);

/* The camera refused a TLS handshake: its certificate is not the pinned one,
 * so another device answers at its address (invariant 5). When that device
 * shows another adopted camera's pinned certificate and that camera is not
 * streaming from its own address, the two swapped addresses: the run stays
 * refused and asks again later, unquarantined. A certificate is public (any
 * client can fetch it), so while that camera does stream where it should,
 * the device that shows its certificate here is an impostor: quarantined. */
static void
on_camera_certificate_changed (HearthCamera *camera, const char *seen, gpointer user_data)
{
  HearthCameras *self = user_data;
  HearthCameraEvidence evidence = { .cert_fp = (char *) seen };
  g_autoptr (HearthCameraRow) row =
    hearth_store_camera_get (self->store, hearth_camera_get_id (camera), NULL);
  g_autoptr (HearthCameraRow) other = NULL;
  g_autofree char *why = NULL;
  HearthCamera *other_ingest;

  if (row == NULL)
    return;
  other = other_camera (self, row->id, &evidence, NULL);
  if (other == NULL) {
    camera_quarantine (self, row, hearth_camera_get_last_error (camera), FALSE);
    return;
  }
  other_ingest = g_hash_table_lookup (self->cameras, other->id);
  if (other_ingest != NULL &&
      hearth_camera_get_state (other_ingest) == HEARTH_CAMERA_STREAMING) {
    why = g_strdup_printf ("the device at its address shows the certificate of camera %s "
                           "(“%s”), which streams from its own address", other->id,
                           other->name);
    camera_quarantine (self, row, why, FALSE);
    return;
  }
  g_message ("Camera %s (“%s”): camera %s (“%s”) answers at its address now (by its "
             "certificate); nothing was sent to it. Asking again later",
             row->id, row->name, other->id, other->name);
}

/* The camera's driver: the one it was adopted with, else its URL's. */
static const HearthPlugin *
camera_plugin (HearthCameras *self, const HearthCameraRow *row)
{
  const HearthPlugin *plugin = NULL;

  if (row->plugin != NULL)
    plugin = hearth_plugins_find_by_name (self->plugins, row->plugin);
  return plugin != NULL ? plugin : hearth_plugins_find_for_url (self->plugins, row->url);
}

/* Starts ingest for @row (a quarantined camera is not ingested). */
static void
camera_start (HearthCameras *self, const HearthCameraRow *row)
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
  if (plugin->build_source != NULL) {
    hearth_camera_set_source_func (camera, plugin->build_source);
  } else {
    /* Every start, reconnect and follow dials row->url: it is checked
     * against the local networks in force, not only those at adoption. */
    g_autoptr (GError) error = NULL;
    g_autofree char *checked = hearth_camera_url_check (row->url,
                                                        self->config->local_ranges,
                                                        &error);

    if (checked == NULL) {
      g_autofree char *reason = g_strdup_printf ("not a local address under "
                                                 "local-networks: %s", error->message);

      g_warning ("Camera %s (“%s”) not connected: %s", row->id, row->name, reason);
      hearth_camera_refuse (camera, reason);
      g_hash_table_replace (self->cameras, g_strdup (row->id), g_object_ref (camera));
      return;
    }
  }
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
camera_stop (HearthCameras *self, const char *id)
{
  HearthCamera *camera = g_hash_table_lookup (self->cameras, id);

  if (camera == NULL)
    return;
  g_signal_handlers_disconnect_by_data (camera, self);
  hearth_camera_stop (camera);
  /* Nothing cached for it outlives its ingest. */
  g_signal_emit (self, signals[SIGNAL_CAMERA_REMOVED], 0, id);
  g_hash_table_remove (self->cameras, id);
}

/* Stops cameras that no longer have a row (e.g. after a household deletion). */
static void
cameras_sync (HearthCameras *self)
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

/*
 * After any change that can take access away: cut what is no longer
 * allowed first ("access-changed"), then stop the cameras that are gone
 * (stopping ends streams cleanly, which would let their queued bytes out):
 * @stop_id (nullable), and with @sync every camera that no longer has a row.
 */
static void
access_changed (HearthCameras *self, const char *stop_id, gboolean sync)
{
  g_signal_emit (self, signals[SIGNAL_ACCESS_CHANGED], 0);
  if (stop_id != NULL)
    camera_stop (self, stop_id);
  if (sync)
    cameras_sync (self);
}


/* Stops and starts @id again from its row: a new generation (invariant 6). */
static void
camera_restart (HearthCameras *self, const char *id)
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
static char *found_url (HearthCameras *self, const HearthPlugin *plugin,
                        const HearthFound *found, GError **error);

/*
 * Whether the announcement @found points at @row's stream: the URL its
 * plugin builds from it is the camera's. (An Axis camera announces its HTTP
 * port; a recorder announces one service per channel, on one address.)
 */
static gboolean
camera_at (HearthCameras *self, const HearthCameraRow *row, const HearthFound *found)
{
  const HearthPlugin *plugin =
    hearth_plugins_best_for_service (self->plugins, &found->service, NULL);

  /* A device found by its plugin's own discovery (ONVIF) has no URL of its
   * own until asked with credentials: it is at a camera of that plugin when
   * it answers at the address the camera streams from. */
  if (plugin != NULL && plugin->resolve_async != NULL) {
    g_autofree char *host = NULL;
    guint16 port = 0;

    return g_strcmp0 (row->plugin, plugin->name) == 0 &&
           url_endpoint (row->url, &host, &port) &&
           g_strcmp0 (host, found->service.address) == 0;
  }
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

/* What @found says about the device that announced it, as read by the
 * plugin that takes it (returned); NULL, with nothing filled, when no plugin
 * takes it. */
static const HearthPlugin *
evidence_of_found (HearthCameras *self, const HearthFound *found,
                   HearthCameraEvidence *out, char **model)
{
  const HearthPlugin *plugin =
    hearth_plugins_best_for_service (self->plugins, &found->service, NULL);
  HearthEvidence e = { NULL };

  if (plugin == NULL)
    return NULL;
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
  return plugin;
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
  /* What a plugin's own discovery (ONVIF) reads is no TXT record. */
  gboolean txt = adopted->mdns_type == NULL || adopted->mdns_type[0] == '_';
  const struct { const char *what, *was, *now; } f[] = {
    { txt ? "TXT id" : "device id", adopted->txt_id, seen->txt_id },
    { txt ? "TXT serial" : "serial number", adopted->txt_serial, seen->txt_serial },
    { txt ? "TXT MAC" : "announced MAC", adopted->txt_mac, seen->txt_mac },
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

/* Nothing of @row is ingested or served from now on (until adopted again).
 * @stop: also stop its ingest here (FALSE: its own run is refusing it now). */
static void
camera_quarantine (HearthCameras *self, const HearthCameraRow *row, const char *why,
                   gboolean stop)
{
  g_autoptr (GError) error = NULL;

  if (row->quarantined_at != 0)
    return;
  if (!hearth_store_camera_quarantine (self->store, row->id, why, &error)) {
    g_warning ("Could not quarantine camera %s: %s", row->id, error->message);
    /* Another device answers there all the same: not ingested. */
    if (stop)
      camera_stop (self, row->id);
    return;
  }
  g_warning ("Camera %s (“%s”) quarantined: %s. Nothing of it is ingested or served "
             "until it is adopted again (hearthctl camera adopt %s)",
             row->id, row->name, why, row->id);
  /* The row now says quarantined, so the choke point refuses it. */
  access_changed (self, stop ? row->id : NULL, FALSE);
}

/*
 * Another adopted camera than @except_id that @seen (an announcement's
 * evidence) or @mac (a neighbour MAC) belongs to: after a power cut two
 * cameras may swap addresses, and neither is then "another device".
 * (transfer full) (nullable)
 */
static HearthCameraRow *
other_camera (HearthCameras *self, const char *except_id, const HearthCameraEvidence *seen,
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

/* Whether the discovery that finds @plugin's cameras runs: mDNS for the
 * mDNS plugins, the plugins' own (ONVIF) for theirs. */
static gboolean
discovery_watches (HearthCameras *self, const HearthPlugin *plugin)
{
  if (self->discovery == NULL)
    return FALSE;
  if (plugin != NULL && plugin->discovery_type != NULL)
    return hearth_discovery_sources_running (self->discovery);
  return hearth_discovery_is_running (self->discovery);
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
  HearthCameras *self = user_data;
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
  if (why == NULL && discovery_watches (self, plugin)) {
    g_autoptr (GPtrArray) found = hearth_discovery_list (self->discovery);

    for (guint i = 0; why == NULL && other == NULL && i < found->len; i++) {
      HearthFound *f = found->pdata[i];
      HearthCameraEvidence seen = { NULL };
      g_autofree char *changed = NULL;

      if (!camera_at (self, row, f) || !evidence_of_found (self, f, &seen, NULL))
        continue;
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
      *reason = g_strdup ("waiting for its announcement to confirm it is the same "
                          "device");
      return FALSE;
    }
  }

  if (why != NULL) {
    camera_quarantine (self, row, why, FALSE);
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
found_url (HearthCameras *self, const HearthPlugin *plugin, const HearthFound *found,
           GError **error)
{
  g_autofree char *url = NULL;

  if (plugin->build_url == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 plugin->resolve_async != NULL
                 ? "the %s plugin asks the camera for its URL: adopt it with "
                   "hearth_cameras_adopt_async"
                 : "the %s plugin cannot build a URL for a discovered camera", plugin->name);
    return NULL;
  }
  url = plugin->build_url (&found->service, error);
  if (url == NULL)
    return NULL;
  return hearth_camera_url_check (url, self->config->local_ranges, error);
}

/* Another camera than @except_id that streams from @url. (nullable) */
static HearthCameraRow *
camera_with_url (HearthCameras *self, const char *except_id, const char *url)
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
  HearthCameras *self;   /* a reference */
  char *id;
  char *url;             /* NULL: asked of the device once the MAC is proven */
  char *address;
  guint16 port;
  HearthFound *found;    /* (nullable) for a plugin that resolves (ONVIF) */
} FollowProbe;

static void
follow_probe_free (FollowProbe *probe)
{
  g_object_unref (probe->self);
  g_free (probe->id);
  g_free (probe->url);
  g_free (probe->address);
  g_clear_pointer (&probe->found, hearth_found_unref);
  g_free (probe);
}

static void follow_resolve (HearthCameras *self, const HearthCameraRow *row,
                            HearthFound *found);

/*
 * The last step of following @row to a new address (shown as @shown): its
 * URL (with its sub stream and device service where its plugin resolves
 * them) stored, and the camera restarted there. Another camera's URL may be
 * taken over only on proof that the device there is this one, not that one:
 * @mac_there, the MAC that answered at the address (NULL: never take over).
 * Two cameras that swapped addresses: the other one is followed in turn when
 * its own announcement is seen.
 */
static void
follow_to (HearthCameras *self, const HearthCameraRow *row, const char *shown,
           const char *url, const char *sub_url, const char *service_url,
           const char *mac_there)
{
  g_autoptr (HearthCameraRow) taken = camera_with_url (self, row->id, url);
  g_autoptr (GError) error = NULL;

  if (taken != NULL && (mac_there == NULL || row->evidence.neighbour_mac == NULL ||
                        g_strcmp0 (taken->evidence.neighbour_mac, mac_there) == 0)) {
    g_warning ("Camera %s (“%s”) announces itself at %s, where camera %s streams from: "
               "not followed", row->id, row->name, shown, taken->id);
  } else if (!hearth_store_camera_follow (self->store, row->id, url, sub_url, service_url,
                                          &error)) {
    g_warning ("Camera %s cannot be followed to %s: %s", row->id, shown, error->message);
  } else {
    g_message ("Camera %s (“%s”) now answers at %s: following it", row->id, row->name, shown);
    camera_restart (self, row->id);
  }
}

/* The probe connected (or not): follow if the MAC there is the camera's. */
static void
on_follow_probe (GObject *source, GAsyncResult *result, gpointer user_data)
{
  FollowProbe *probe = user_data;
  HearthCameras *self = probe->self;
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (HearthCameraRow) row = NULL;
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
  shown = probe->url != NULL ? url_stream (probe->url) : g_strdup (probe->address);
  if (row->evidence.neighbour_mac != NULL &&
      g_strcmp0 (mac, row->evidence.neighbour_mac) != 0)
    g_warning ("Camera %s (“%s”) is announced at %s, but the device there has MAC "
               "address %s, not %s: not followed", row->id, row->name, shown,
               mac ? mac : "(none: it did not answer)", row->evidence.neighbour_mac);
  else if (probe->found != NULL)
    /* Its URLs are asked of the device itself, with its credentials: only
     * now that the MAC there proves it is this camera. */
    follow_resolve (self, row, probe->found);
  else
    follow_to (self, row, shown, probe->url, NULL, NULL, mac);
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
camera_follow (HearthCameras *self, const HearthCameraRow *row, const HearthFound *found)
{
  const HearthPlugin *plugin = camera_plugin (self, row);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketClient) client = NULL;
  g_autofree char *url = NULL;
  FollowProbe *probe;

  /* A camera whose plugin resolves its URLs asks the device for them once
   * the MAC there is proven; any other has its URL from the announcement. */
  if (plugin == NULL ||
      (plugin->resolve_async == NULL && !(url = found_url (self, plugin, found, &error)))) {
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
  probe->address = g_strdup (found->service.address);
  if (url != NULL)
    probe->url = g_steal_pointer (&url);
  else
    probe->found = hearth_found_ref ((HearthFound *) found);
  client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 5);
  g_socket_client_connect_to_host_async (client, found->service.address,
                                         probe->url != NULL ? camera_url_port (probe->url)
                                                            : found->service.port,
                                         NULL, on_follow_probe, probe);
}

/* The adopted camera @found is, by its evidence or its service; NULL if none. */
static HearthCameraRow *
found_camera (HearthCameras *self, const HearthFound *found, const HearthCameraEvidence *seen)
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

static char *adopt_found (HearthCameras *self, const HearthFound *found,
                          const char *household, const char *name,
                          const char *user, const char *password, GError **error);

static void
on_found (HearthDiscovery *discovery, HearthFound *found, gpointer user_data)
{
  HearthCameras *self = user_data;
  const HearthPlugin *plugin;
  HearthCameraEvidence seen = { NULL };
  g_autoptr (GPtrArray) rows = NULL;
  gboolean known = FALSE;

  plugin = evidence_of_found (self, found, &seen, NULL);
  if (plugin == NULL)
    return;
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
      if (other == NULL)
        camera_quarantine (self, row, reason, TRUE);
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
               "hearthctl camera adopt %s --household NAME%s",
               found->service.name, found->service.type, plugin->name,
               found->service.address, found->key,
               plugin->resolve_async != NULL ? " --user USER --password-file FILE" : "");
    if (*self->config->auto_adopt_household != '\0' && plugin->resolve_async != NULL) {
      g_message ("Camera “%s” (%s) is not adopted automatically: it needs its user name "
                 "and password (hearthctl camera adopt %s --household NAME --user USER "
                 "--password-file FILE)", found->service.name, plugin->name, found->key);
    } else if (*self->config->auto_adopt_household != '\0') {
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
  HearthCameras *self = user_data;
  HearthCameraEvidence seen = { NULL };
  g_autoptr (HearthCameraRow) row = NULL;

  if (evidence_of_found (self, found, &seen, NULL) == NULL)
    return;
  row = found_camera (self, found, &seen);
  if (row != NULL)
    g_message ("Camera %s (“%s”) withdrew its %s announcement", row->id, row->name,
               found->service.type[0] == '_' ? "mDNS" : found->service.type);
  hearth_camera_evidence_clear (&seen);
}

/* EXISTS: @existing is the camera someone asked to adopt. */
static void
set_already_adopted (GError **error, const HearthCameraRow *existing)
{
  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
               "this camera is already adopted as %s (“%s”)%s", existing->id,
               existing->name,
               existing->quarantined_at ? "; it is quarantined: adopt that id again" : "");
}

/*
 * Adopts the discovered service @found into @household. @name NULL: its
 * instance name. Returns the new camera's UUID. (transfer full)
 */
static char *
adopt_found (HearthCameras *self, const HearthFound *found, const char *household,
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

  plugin = evidence_of_found (self, found, &seen, NULL);
  if (plugin == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "no plugin takes %s services", found->service.type);
    return NULL;
  }
  url = found_url (self, plugin, found, error);
  if (url == NULL) {
    hearth_camera_evidence_clear (&seen);
    return NULL;
  }
  existing = found_camera (self, found, &seen);
  if (existing == NULL)
    existing = camera_with_url (self, NULL, url);
  if (existing != NULL) {
    set_already_adopted (error, existing);
    hearth_camera_evidence_clear (&seen);
    return NULL;
  }
  h = hearth_store_household_get_by_name (self->store, household, error);
  if (h != NULL && name == NULL) {
    /* Not a person's choice: take the first free "NAME (N)" rather than
     * refuse a name another camera of the household has. */
    g_autofree char *instance = g_utf8_make_valid (found->service.name, -1);

    name = fallback = hearth_store_camera_free_name (self->store, h->id, instance, error);
  }
  if (h != NULL && name != NULL)
    id = hearth_store_camera_adopt (self->store, h->id, name, url, NULL, NULL, plugin->name,
                                    &seen, user, password, error);
  hearth_camera_evidence_clear (&seen);
  if (id == NULL || !(row = hearth_store_camera_get (self->store, id, error)))
    return NULL;
  camera_start (self, row);
  g_message ("Camera %s (“%s”, %s) adopted into household “%s”", id, row->name,
             found->service.type, household);
  return g_steal_pointer (&id);
}

/* --- cameras whose plugin asks the device for its URLs (ONVIF) --------------------- */

#define NOT_AUTHORIZED_TEXT HEARTH_CAMERA_NOT_AUTHORIZED

/* A stream URL a plugin resolved, checked as every camera URL is (a local
 * address, invariant 7) and also to be the device's own address: a device
 * must not send the gateway, with its credentials, to another one. */
static char *
resolved_url_check (HearthCameras *self, const char *url, const HearthFound *found,
                    const char *what, GError **error)
{
  g_autofree char *checked = NULL;
  g_autofree char *host = NULL;
  g_autofree char *shown = NULL;
  guint16 port = 0;

  checked = hearth_camera_url_check (url, self->config->local_ranges, error);
  if (checked == NULL) {
    g_prefix_error (error, "the camera's %s stream URI is refused: ", what);
    return NULL;
  }
  if (!url_endpoint (checked, &host, &port) || g_strcmp0 (host, found->service.address) != 0) {
    shown = url_stream (checked);
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                 "the camera's %s stream URI %s points at another device than the camera "
                 "(%s): refused", what, shown ? shown : "(unreadable)", found->service.address);
    return NULL;
  }
  return g_steal_pointer (&checked);
}

/* A plugin's error as the gateway's: a refused password is DENIED. */
static void
resolve_error (GError **error, GError *plugin_error)
{
  if (g_error_matches (plugin_error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_NOT_AUTHORIZED))
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_DENIED, NOT_AUTHORIZED_TEXT);
  else
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "could not ask the camera for its stream: %s", plugin_error->message);
}

/* Both URLs of @resolved checked, and the evidence it adds to @seen. */
static gboolean
resolved_take (HearthCameras *self, HearthResolved *resolved, const HearthFound *found,
               HearthCameraEvidence *seen, char **url, char **sub_url, GError **error)
{
  g_autofree char *mac = hearth_mac_normalize (resolved->evidence.mac);

  if (resolved->url == NULL) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                         "the camera gave no stream URI");
    return FALSE;
  }
  *url = resolved_url_check (self, resolved->url, found, "main", error);
  if (*url == NULL)
    return FALSE;
  if (resolved->sub_url != NULL) {
    *sub_url = resolved_url_check (self, resolved->sub_url, found, "sub", error);
    if (*sub_url == NULL) {
      g_clear_pointer (url, g_free);
      return FALSE;
    }
  }
  g_free (seen->txt_serial);
  seen->txt_serial = evidence_field (resolved->evidence.serial, 128);
  g_free (seen->txt_mac);
  seen->txt_mac = g_steal_pointer (&mac);
  return TRUE;
}

typedef struct {
  HearthCameras *self;   /* a reference */
  HearthFound *found;    /* a reference */
  char *household;
  char *name;            /* (nullable) */
  char *user;            /* (nullable) secret */
  char *password;        /* (nullable) secret */
  char *follow_id;       /* following this camera; NULL: adopting */
} Resolution;

static void
secret_free (char *secret)
{
  if (secret != NULL)
    explicit_bzero (secret, strlen (secret));
  g_free (secret);
}

static void
resolution_free (Resolution *r)
{
  g_object_unref (r->self);
  hearth_found_unref (r->found);
  g_free (r->household);
  g_free (r->name);
  secret_free (r->user);
  secret_free (r->password);
  g_free (r->follow_id);
  g_free (r);
}

/* What the device answered @r with: its URLs checked (resolved_take) and
 * the evidence seen (@seen, to clear). A refused password is DENIED. */
static gboolean
resolution_take (Resolution *r, GAsyncResult *result, HearthResolved *resolved,
                 HearthCameraEvidence *seen, char **url, char **sub_url, GError **error)
{
  const HearthPlugin *plugin = hearth_plugins_best_for_service (r->self->plugins,
                                                                &r->found->service, NULL);
  g_autoptr (GError) plugin_error = NULL;

  if (!plugin->resolve_finish (result, resolved, &plugin_error)) {
    resolve_error (error, plugin_error);
    return FALSE;
  }
  evidence_of_found (r->self, r->found, seen, NULL);
  return resolved_take (r->self, resolved, r->found, seen, url, sub_url, error);
}

static void
on_adopt_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Resolution *r = g_task_get_task_data (task);
  HearthCameras *self = r->self;
  const HearthFound *found = r->found;
  const HearthPlugin *plugin = hearth_plugins_best_for_service (self->plugins,
                                                                &found->service, NULL);
  g_auto (HearthResolved) resolved = { NULL };
  GError *error = NULL;
  HearthCameraEvidence seen = { NULL };
  g_autoptr (HearthCameraRow) existing = NULL;
  g_autoptr (HearthHousehold) h = NULL;
  g_autoptr (HearthCameraRow) row = NULL;
  g_autofree char *url = NULL;
  g_autofree char *sub_url = NULL;
  g_autofree char *id = NULL;
  g_autofree char *fallback = NULL;
  const char *name = r->name;

  (void) source;
  if (!resolution_take (r, result, &resolved, &seen, &url, &sub_url, &error))
    goto out;
  existing = found_camera (self, found, &seen);
  if (existing == NULL)
    existing = camera_with_url (self, NULL, url);
  if (existing != NULL) {
    set_already_adopted (&error, existing);
    goto out;
  }
  h = hearth_store_household_get_by_name (self->store, r->household, &error);
  if (h != NULL && name == NULL) {
    g_autofree char *instance = g_utf8_make_valid (found->service.name, -1);

    name = fallback = hearth_store_camera_free_name (self->store, h->id, instance, &error);
  }
  if (h != NULL && name != NULL)
    id = hearth_store_camera_adopt (self->store, h->id, name, url, sub_url,
                                    resolved.service_url, plugin->name, &seen, r->user,
                                    r->password, &error);
  if (id == NULL || !(row = hearth_store_camera_get (self->store, id, &error)))
    goto out;
  camera_start (self, row);
  g_message ("Camera %s (“%s”, %s) adopted into household “%s”%s", id, row->name,
             found->service.type, r->household,
             sub_url != NULL ? "; it has a sub stream too (kept, not ingested yet)" : "");

out:
  hearth_camera_evidence_clear (&seen);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_steal_pointer (&id), g_free);
  g_object_unref (task);
}

/* Adopts @found, whose plugin asks the device for its URLs: the checks that
 * need no device first, then the resolution, then the rest. */
static void
adopt_found_async (HearthCameras *self, GTask *task, HearthFound *found,
                   const HearthPlugin *plugin, const char *household, const char *name,
                   const char *user, const char *password)
{
  HearthCameraEvidence seen = { NULL };
  g_autoptr (HearthCameraRow) existing = NULL;
  g_autoptr (HearthHousehold) h = NULL;
  GError *error = NULL;
  Resolution *r;

  evidence_of_found (self, found, &seen, NULL);
  existing = found_camera (self, found, &seen);
  hearth_camera_evidence_clear (&seen);
  if (existing != NULL) {
    set_already_adopted (&error, existing);
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  h = hearth_store_household_get_by_name (self->store, household, &error);
  if (h == NULL) {
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  r = g_new0 (Resolution, 1);
  r->self = g_object_ref (self);
  r->found = hearth_found_ref (found);
  r->household = g_strdup (household);
  r->name = g_strdup (name);
  r->user = g_strdup (user);
  r->password = g_strdup (password);
  g_task_set_task_data (task, r, (GDestroyNotify) resolution_free);
  plugin->resolve_async (&found->service, user, password, g_task_get_cancellable (task),
                         on_adopt_resolved, task);
}

static void
on_follow_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Resolution *r = user_data;
  HearthCameras *self = r->self;
  g_auto (HearthResolved) resolved = { NULL };
  g_autoptr (GError) error = NULL;
  HearthCameraEvidence seen = { NULL };
  g_autoptr (HearthCameraRow) row = NULL;
  g_autofree char *url = NULL;
  g_autofree char *sub_url = NULL;
  g_autofree char *why = NULL;
  const char *address = r->found->service.address;

  (void) source;
  row = self->store ? hearth_store_camera_get (self->store, r->follow_id, NULL) : NULL;
  if (row == NULL || row->quarantined_at != 0) {
    resolution_free (r);
    return;
  }
  if (!resolution_take (r, result, &resolved, &seen, &url, &sub_url, &error)) {
    HearthCamera *camera = g_hash_table_lookup (self->cameras, row->id);

    g_warning ("Camera %s (“%s”) is announced at %s but not followed: %s", row->id,
               row->name, address, error->message);
    /* Said where people look: camera list and stats. */
    if (camera != NULL && g_error_matches (error, HEARTH_ERROR, HEARTH_ERROR_DENIED))
      hearth_camera_refuse (camera, error->message);
  } else if (evidence_compare (&row->evidence, &seen, &why) == SEEN_CHANGED) {
    g_warning ("Camera %s (“%s”) is announced at %s but not followed: the device there "
               "says %s", row->id, row->name, address, why);
  } else {
    follow_to (self, row, address, url, sub_url, resolved.service_url, NULL);
  }
  hearth_camera_evidence_clear (&seen);
  resolution_free (r);
}

static void
on_readopt_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Resolution *r = g_task_get_task_data (task);
  HearthCameras *self = r->self;
  g_auto (HearthResolved) resolved = { NULL };
  GError *error = NULL;
  HearthCameraEvidence seen = { NULL };
  g_autoptr (HearthCameraRow) row = NULL;
  g_autofree char *url = NULL;
  g_autofree char *sub_url = NULL;

  (void) source;
  if (resolution_take (r, result, &resolved, &seen, &url, &sub_url, &error) &&
      (row = hearth_store_camera_get (self->store, r->follow_id, &error)) != NULL &&
      hearth_store_camera_readopt (self->store, row->id, url, sub_url,
                                   resolved.service_url, &seen, &error)) {
    g_message ("Camera %s (“%s”) adopted again", row->id, row->name);
    camera_restart (self, row->id);
  }
  hearth_camera_evidence_clear (&seen);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_strdup (r->follow_id), g_free);
  g_object_unref (task);
}

/* Adopts @row (a camera whose plugin resolves) again: the device that
 * answers at its address now is asked for its URLs with the camera's
 * credentials, and its evidence is the camera's from now on. FALSE when no
 * such device is announced there (then the stored evidence is kept). */
static gboolean
readopt_resolved (HearthCameras *self, GTask *task, const HearthCameraRow *row,
                  const HearthPlugin *plugin)
{
  g_autoptr (GPtrArray) found = NULL;
  HearthFound *at = NULL;
  Resolution *r;

  if (self->discovery == NULL)
    return FALSE;
  found = hearth_discovery_list (self->discovery);
  for (guint i = 0; at == NULL && i < found->len; i++)
    if (camera_at (self, row, found->pdata[i]))
      at = found->pdata[i];
  if (at == NULL)
    return FALSE;
  r = g_new0 (Resolution, 1);
  r->self = g_object_ref (self);
  r->found = hearth_found_ref (at);
  r->follow_id = g_strdup (row->id);
  if (row->has_credentials)
    hearth_store_camera_get_credentials (self->store, row->id, &r->user, &r->password, NULL);
  g_task_set_task_data (task, r, (GDestroyNotify) resolution_free);
  plugin->resolve_async (&at->service, r->user, r->password, NULL, on_readopt_resolved, task);
  return TRUE;
}

/* The camera @row, proven by its MAC at @found's address, asked there for its
 * URLs with its credentials. */
static void
follow_resolve (HearthCameras *self, const HearthCameraRow *row, HearthFound *found)
{
  const HearthPlugin *plugin = camera_plugin (self, row);
  Resolution *r;

  if (plugin == NULL || plugin->resolve_async == NULL)
    return;
  r = g_new0 (Resolution, 1);
  r->self = g_object_ref (self);
  r->found = hearth_found_ref (found);
  r->follow_id = g_strdup (row->id);
  if (row->has_credentials)
    hearth_store_camera_get_credentials (self->store, row->id, &r->user, &r->password, NULL);
  plugin->resolve_async (&found->service, r->user, r->password, NULL, on_follow_resolved, r);
}

/* Adopts the quarantined (or any) camera @row again, with what is seen now. */
static gboolean
readopt (HearthCameras *self, const HearthCameraRow *row, GError **error)
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
      evidence_of_found (self, f, &seen, NULL);
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
  ok = hearth_store_camera_readopt (self->store, row->id, url, NULL, NULL, &seen, error);
  hearth_camera_evidence_clear (&seen);
  if (ok) {
    g_message ("Camera %s (“%s”) adopted again", row->id, row->name);
    camera_restart (self, row->id);
  }
  return ok;
}

/* Whether a service announcing @row is resolved now. */
static gboolean
camera_announced (HearthCameras *self, const HearthCameraRow *row)
{
  g_autoptr (GPtrArray) found = NULL;
  gboolean announced = FALSE;

  if (self->discovery == NULL || row->evidence.mdns_type == NULL)
    return FALSE;
  found = hearth_discovery_list (self->discovery);
  for (guint i = 0; !announced && i < found->len; i++) {
    HearthFound *f = found->pdata[i];
    HearthCameraEvidence seen = { NULL };

    if (evidence_of_found (self, f, &seen, NULL) == NULL)
      continue;
    announced = evidence_compare (&row->evidence, &seen, NULL) == SEEN_SAME ||
                (!camera_announces_identity (row) &&
                 g_strcmp0 (row->evidence.mdns_name, f->service.name) == 0 &&
                 g_strcmp0 (row->evidence.mdns_type, f->service.type) == 0);
    hearth_camera_evidence_clear (&seen);
  }
  return announced;
}

static void
discovered_free (HearthDiscovered *d)
{
  hearth_found_unref (d->found);
  g_free (d->model);
  g_free (d->maker);
  hearth_camera_row_free (d->adopted);
  g_free (d);
}

/**
 * hearth_cameras_list_discovered:
 *
 * Returns: (transfer full) (element-type HearthDiscovered): what mDNS shows
 *   now that a plugin takes, and which camera each one is
 */
GPtrArray *
hearth_cameras_list_discovered (HearthCameras *self)
{
  g_autoptr (GPtrArray) found = NULL;
  GPtrArray *out;

  g_return_val_if_fail (HEARTH_IS_CAMERAS (self), NULL);

  found = self->discovery ? hearth_discovery_list (self->discovery) : g_ptr_array_new ();
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) discovered_free);
  for (guint i = 0; i < found->len; i++) {
    HearthFound *f = found->pdata[i];
    HearthCameraEvidence seen = { NULL };
    g_autofree char *model = NULL;
    const HearthPlugin *plugin = evidence_of_found (self, f, &seen, &model);
    HearthDiscovered *d;

    if (plugin == NULL)
      continue;
    d = g_new0 (HearthDiscovered, 1);
    d->found = hearth_found_ref (f);
    d->plugin = plugin;
    d->model = g_steal_pointer (&model);
    if (plugin->extract_evidence != NULL) {
      HearthEvidence e = { NULL };

      plugin->extract_evidence (&f->service, &e);
      if (e.maker != NULL)
        d->maker = g_utf8_make_valid (e.maker, MIN (strlen (e.maker), 64));
      hearth_evidence_clear (&e);
    }
    d->adopted = found_camera (self, f, &seen);
    g_ptr_array_add (out, d);
    hearth_camera_evidence_clear (&seen);
  }
  return out;
}

/**
 * hearth_cameras_get_plugin:
 *
 * Returns: (transfer none) (nullable): the plugin that drives @row's camera
 */
const HearthPlugin *
hearth_cameras_get_plugin (HearthCameras *self, const HearthCameraRow *row)
{
  g_return_val_if_fail (HEARTH_IS_CAMERAS (self), NULL);
  return camera_plugin (self, row);
}

/* Whether a service announcing @row is resolved now. */
gboolean
hearth_cameras_is_announced (HearthCameras *self, const HearthCameraRow *row)
{
  g_return_val_if_fail (HEARTH_IS_CAMERAS (self), FALSE);
  return camera_announced (self, row);
}

/**
 * hearth_cameras_adopt: a discovered service (its key) into @household, or a
 *   quarantined camera (its UUID) again, with the evidence seen now
 * Returns: (transfer full) (nullable): the camera's UUID
 */
char *
hearth_cameras_adopt (HearthCameras *self, const char *id, const char *household,
                      const char *name, const char *user, const char *password,
                      GError **error)
{
  HearthFound *found;

  g_return_val_if_fail (HEARTH_IS_CAMERAS (self), NULL);

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
    return g_strdup (id);
  }
  found = self->discovery ? hearth_discovery_lookup (self->discovery, id) : NULL;
  if (found == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                 "no discovered camera “%s” (see hearthctl camera list --discovered)", id);
    return NULL;
  }
  if (household == NULL) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "say which household adopts the camera (--household)");
    return NULL;
  }
  return adopt_found (self, found, household, name, user, password, error);
}

/**
 * hearth_cameras_adopt_async: hearth_cameras_adopt, for every camera: one
 *   whose plugin asks the device for its URLs (ONVIF) is asked first, with
 *   the credentials; the others complete at once
 */
void
hearth_cameras_adopt_async (HearthCameras *self, const char *id, const char *household,
                            const char *name, const char *user, const char *password,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  HearthFound *found = NULL;
  const HearthPlugin *plugin = NULL;
  GError *error = NULL;
  char *camera_id;

  g_return_if_fail (HEARTH_IS_CAMERAS (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, hearth_cameras_adopt_async);
  if (g_uuid_string_is_valid (id) && household == NULL && name == NULL && user == NULL) {
    g_autoptr (HearthCameraRow) row = hearth_store_camera_get (self->store, id, NULL);

    plugin = row != NULL ? camera_plugin (self, row) : NULL;
    if (plugin != NULL && plugin->resolve_async != NULL &&
        readopt_resolved (self, task, row, plugin))
      return;
    plugin = NULL;
  }
  if (!g_uuid_string_is_valid (id) && self->discovery != NULL &&
      household != NULL && (password == NULL || user != NULL))
    found = hearth_discovery_lookup (self->discovery, id);
  if (found != NULL)
    plugin = hearth_plugins_best_for_service (self->plugins, &found->service, NULL);
  if (plugin != NULL && plugin->resolve_async != NULL) {
    adopt_found_async (self, task, found, plugin, household, name, user, password);
    return;
  }
  camera_id = hearth_cameras_adopt (self, id, household, name, user, password, &error);
  if (camera_id == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, camera_id, g_free);
  g_object_unref (task);
}

char *
hearth_cameras_adopt_finish (HearthCameras *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Cameras the gate sent away without quarantine (waiting for their
 * announcement, or another adopted camera at their address) ask again every
 * [cameras] backoff-max-ms, in case what they waited for happened
 * unannounced. */
static gboolean
on_refused_retry (gpointer user_data)
{
  HearthCameras *self = user_data;
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

/* --- public ---------------------------------------------------------------------- */

void
hearth_cameras_start_one (HearthCameras *self, const HearthCameraRow *row)
{
  g_return_if_fail (HEARTH_IS_CAMERAS (self));
  camera_start (self, row);
}

void
hearth_cameras_stop_one (HearthCameras *self, const char *id)
{
  g_return_if_fail (HEARTH_IS_CAMERAS (self));
  camera_stop (self, id);
}

void
hearth_cameras_restart (HearthCameras *self, const char *id)
{
  g_return_if_fail (HEARTH_IS_CAMERAS (self));
  camera_restart (self, id);
}

void
hearth_cameras_access_changed (HearthCameras *self)
{
  g_return_if_fail (HEARTH_IS_CAMERAS (self));
  access_changed (self, NULL, TRUE);
}

/**
 * hearth_cameras_lookup:
 *
 * Returns: (transfer none) (nullable): @id's ingest, running or refused
 */
HearthCamera *
hearth_cameras_lookup (HearthCameras *self, const char *id)
{
  g_return_val_if_fail (HEARTH_IS_CAMERAS (self), NULL);
  return g_hash_table_lookup (self->cameras, id);
}

guint
hearth_cameras_get_n (HearthCameras *self)
{
  g_return_val_if_fail (HEARTH_IS_CAMERAS (self), 0);
  return g_hash_table_size (self->cameras);
}

void
hearth_cameras_set_discovery (HearthCameras *self, HearthDiscovery *discovery)
{
  g_return_if_fail (HEARTH_IS_CAMERAS (self));
  g_return_if_fail (self->discovery == NULL);

  self->discovery = g_object_ref (discovery);
  g_signal_connect (discovery, "found", G_CALLBACK (on_found), self);
  g_signal_connect (discovery, "lost", G_CALLBACK (on_lost), self);
}

gboolean
hearth_cameras_start (HearthCameras *self, GError **error)
{
  g_autoptr (GPtrArray) rows = NULL;

  g_return_val_if_fail (HEARTH_IS_CAMERAS (self), FALSE);

  rows = hearth_store_camera_list (self->store, 0, error);
  if (rows == NULL)
    return FALSE;
  for (guint i = 0; i < rows->len; i++)
    camera_start (self, rows->pdata[i]);
  if (self->refused_retry_id == 0)
    self->refused_retry_id = g_timeout_add (self->config->camera_backoff_max_ms,
                                            on_refused_retry, self);
  return TRUE;
}

void
hearth_cameras_stop (HearthCameras *self)
{
  GHashTableIter iter;
  gpointer camera;

  g_return_if_fail (HEARTH_IS_CAMERAS (self));

  g_clear_handle_id (&self->refused_retry_id, g_source_remove);
  if (self->discovery != NULL)
    g_signal_handlers_disconnect_by_data (self->discovery, self);
  g_hash_table_iter_init (&iter, self->cameras);
  while (g_hash_table_iter_next (&iter, NULL, &camera)) {
    g_signal_handlers_disconnect_by_data (camera, self);
    hearth_camera_stop (camera);
  }
  g_hash_table_remove_all (self->cameras);
}

static void
hearth_cameras_dispose (GObject *object)
{
  HearthCameras *self = HEARTH_CAMERAS (object);

  hearth_cameras_stop (self);
  g_clear_object (&self->discovery);
  g_clear_object (&self->plugins);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (hearth_cameras_parent_class)->dispose (object);
}

static void
hearth_cameras_finalize (GObject *object)
{
  g_hash_table_unref (HEARTH_CAMERAS (object)->cameras);
  G_OBJECT_CLASS (hearth_cameras_parent_class)->finalize (object);
}

static void
hearth_cameras_class_init (HearthCamerasClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hearth_cameras_dispose;
  G_OBJECT_CLASS (klass)->finalize = hearth_cameras_finalize;

  signals[SIGNAL_ACCESS_CHANGED] =
    g_signal_new ("access-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_CAMERA_REMOVED] =
    g_signal_new ("camera-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
hearth_cameras_init (HearthCameras *self)
{
  self->cameras = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         g_object_unref);
}

HearthCameras *
hearth_cameras_new (const HearthConfig *config, HearthStore *store, HearthPlugins *plugins)
{
  HearthCameras *self = g_object_new (HEARTH_TYPE_CAMERAS, NULL);

  self->config = config;
  self->store = g_object_ref (store);
  self->plugins = g_object_ref (plugins);
  return self;
}
