/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthAccess: the one place that decides who may see what.
 *
 * The HTTP server asks it at the TLS handshake (is this certificate a paired,
 * unrevoked display of a household whose CA issued it?) and again on every
 * request (is the display behind this connection still paired, and is this
 * camera in its household?). Each answer is read from the store at that
 * moment: a revocation, a household deletion or a camera moved elsewhere takes
 * effect on the next check, and HearthDaemon re-checks live streams at once.
 * Refusals are written to the audit log, at most AUDIT_BURST a minute per
 * peer (or display): a flood of refused handshakes must not fill the disk.
 * A certificate that is not accepted and a request from a device without a
 * display certificate (hearth_access_refuse_unpaired) are logged as often as
 * they are audited, never more: a flood cannot flood the log either.
 */
#define G_LOG_DOMAIN "hearth-access"

#include "access.h"
#include "error.h"
#include "peers.h"
#include "pki.h"

#define AUDIT_BURST 20
#define AUDIT_WINDOW_US (60 * G_USEC_PER_SEC)
#define AUDIT_MAX_PEERS 1024

struct _HearthAccess {
  GObject parent_instance;

  HearthStore *store;
  const HearthNetRanges *local_ranges; /* owned by the config, which outlives us */
  HearthPeerCounter *refusals;         /* audited refusals per peer or display */
};

G_DEFINE_TYPE (HearthAccess, hearth_access, G_TYPE_OBJECT)

static void
hearth_access_dispose (GObject *object)
{
  HearthAccess *self = HEARTH_ACCESS (object);

  g_clear_object (&self->store);
  g_clear_pointer (&self->refusals, hearth_peer_counter_free);
  G_OBJECT_CLASS (hearth_access_parent_class)->dispose (object);
}

static void
hearth_access_class_init (HearthAccessClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hearth_access_dispose;
}

static void
hearth_access_init (HearthAccess *self)
{
  self->refusals = hearth_peer_counter_new (AUDIT_MAX_PEERS, AUDIT_WINDOW_US);
}

HearthAccess *
hearth_access_new (HearthStore *store, const HearthNetRanges *local_ranges)
{
  HearthAccess *self = g_object_new (HEARTH_TYPE_ACCESS, NULL);

  self->store = g_object_ref (store);
  self->local_ranges = local_ranges;
  return self;
}

static char *
describe_peer (GSocketAddress *remote)
{
  if (G_IS_INET_SOCKET_ADDRESS (remote)) {
    g_autofree char *host = g_inet_address_to_string (
        g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
    return hearth_format_host_port (
        host, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote)));
  }
  return g_strdup ("unknown peer");
}

void
hearth_access_audit (HearthAccess *self, const char *kind, gint64 household_id,
                     const char *detail)
{
  g_autoptr (GError) error = NULL;

  if (!hearth_store_audit_add (self->store, kind, household_id, detail, &error))
    g_warning ("Could not write audit entry “%s”: %s, ignoring", kind,
               error->message);
}

/* A refusal, audited unless @who (a peer key or "display N") was refused
 * AUDIT_BURST times this minute already; the first one over says so.
 * Returns the text audited, NULL if it was not. (transfer full) */
static char *
audit_refusal (HearthAccess *self, const char *who, const char *kind,
               gint64 household_id, const char *detail)
{
  guint count = hearth_peer_counter_add (self->refusals, who);
  char *audited = NULL;

  if (count <= AUDIT_BURST)
    audited = g_strdup (detail);
  else if (count == AUDIT_BURST + 1)
    audited = g_strdup_printf ("%s (more refusals of %s this minute are not "
                               "audited)", detail, who);
  if (audited != NULL)
    hearth_access_audit (self, kind, household_id, audited);
  else
    g_debug ("not audited (%s over %d a minute): %s", who, AUDIT_BURST, detail);
  return audited;
}

/* The key refusals of @remote are counted under. */
static char *
refusal_key (GSocketAddress *remote)
{
  g_autofree char *key = hearth_peer_key (remote);

  return g_strconcat ("peer ", key, NULL);
}

/* A refused TLS client certificate: audited and logged, rate-limited. */
static void
refuse_certificate (HearthAccess *self, GSocketAddress *remote,
                    gint64 household_id, const char *detail)
{
  g_autofree char *key = refusal_key (remote);
  g_autofree char *audited = audit_refusal (self, key, "access-denied",
                                            household_id, detail);

  if (audited != NULL)
    g_message ("Refused a TLS client: %s", audited);
}

gboolean
hearth_access_check_peer (HearthAccess *self, GSocketAddress *remote,
                          GError **error)
{
  if (remote != NULL &&
      hearth_net_ranges_contains_sockaddr (self->local_ranges, remote))
    return TRUE;

  {
    g_autofree char *peer = describe_peer (remote);
    g_autofree char *detail = g_strdup_printf ("peer %s is outside the local "
                                               "networks", peer);
    g_autofree char *key = refusal_key (remote);

    g_free (audit_refusal (self, key, "peer-refused", 0, detail));
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_LOCAL, "%s", detail);
  }
  return FALSE;
}

char *
hearth_access_accept_certificate (HearthAccess *self, GSocketAddress *remote,
                                  GTlsCertificate *peer, GError **error)
{
  g_autoptr (GByteArray) der = NULL;
  g_autoptr (HearthDisplayRow) display = NULL;
  g_autoptr (HearthHousehold) household = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *who = describe_peer (remote);

  if (!hearth_access_check_peer (self, remote, error))
    return NULL;
  if (peer == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                 "%s sent no client certificate", who);
    return NULL;
  }

  g_object_get (peer, "certificate", &der, NULL);
  fingerprint = hearth_pki_fingerprint_der (der->data, der->len);

  display = hearth_store_display_get_by_fingerprint (self->store, fingerprint,
                                                     &local_error);
  if (display == NULL || display->revoked_at != 0) {
    g_autofree char *detail = g_strdup_printf (
        "%s presented %s certificate %.16s…", who,
        display ? "a revoked display's" : "an unknown", fingerprint);

    refuse_certificate (self, remote, display ? display->household_id : 0,
                        detail);
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED, "%s", detail);
    return NULL;
  }

  household = hearth_store_household_get (self->store, display->household_id,
                                          &local_error);
  if (household == NULL ||
      !hearth_pki_verify_issued_by (der->data, der->len, household->ca_cert_pem,
                                    &local_error)) {
    g_autofree char *detail = g_strdup_printf (
        "%s: certificate of display %" G_GINT64_FORMAT " not accepted: %s", who,
        display->id, local_error ? local_error->message : "no household");

    refuse_certificate (self, remote, display->household_id, detail);
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED, "%s", detail);
    return NULL;
  }
  return g_steal_pointer (&fingerprint);
}

void
hearth_access_refuse_unpaired (HearthAccess *self, GSocketAddress *remote)
{
  g_autofree char *who = describe_peer (remote);
  g_autofree char *key = refusal_key (remote);
  g_autofree char *detail = g_strdup_printf (
      "%s made a request without an accepted display certificate: not paired",
      who);
  g_autofree char *audited = audit_refusal (self, key, "not-paired", 0, detail);

  /* Logged as often as audited: a flood of requests cannot flood the log. */
  if (audited != NULL)
    g_message ("Refused a request: %s", audited);
}

HearthDisplayRow *
hearth_access_resolve_display (HearthAccess *self, const char *fingerprint,
                               GError **error)
{
  g_autoptr (HearthDisplayRow) display = NULL;

  if (fingerprint == NULL) {
    /* Never "no identity = allowed" (PLATFORM.md, the keep-alive trap). */
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                         "no client certificate on this connection");
    return NULL;
  }
  display = hearth_store_display_get_by_fingerprint (self->store, fingerprint,
                                                     NULL);
  if (display == NULL || display->revoked_at != 0) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                         "this display is no longer paired");
    return NULL;
  }
  return g_steal_pointer (&display);
}

HearthCameraRow *
hearth_access_camera (HearthAccess *self, const HearthDisplayRow *display,
                      const char *camera_id, GError **error)
{
  g_autoptr (HearthCameraRow) camera = NULL;

  if (camera_id != NULL && g_uuid_string_is_valid (camera_id))
    camera = hearth_store_camera_get (self->store, camera_id, NULL);

  if (camera == NULL || camera->household_id != display->household_id) {
    if (camera != NULL) {
      g_autofree char *detail = g_strdup_printf (
          "display %" G_GINT64_FORMAT " asked for camera %s of another household",
          display->id, camera_id);
      g_autofree char *key = g_strdup_printf ("display %" G_GINT64_FORMAT, display->id);

      g_free (audit_refusal (self, key, "access-denied", display->household_id,
                           detail));
    }
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                         "no such camera");
    return NULL;
  }
  /* Invariant 5: what is at a quarantined camera's address may be another
   * device; nothing of it is served until the admin adopts it again. */
  if (camera->quarantined_at != 0) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_QUARANTINED,
                         "this camera is quarantined: its identity changed");
    return NULL;
  }
  return g_steal_pointer (&camera);
}

GPtrArray *
hearth_access_cameras (HearthAccess *self, const HearthDisplayRow *display,
                       GError **error)
{
  return hearth_store_camera_list (self->store, display->household_id, error);
}
