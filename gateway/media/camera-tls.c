/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RTSPS certificates of a camera's runs, for HearthCamera (camera.c).
 *
 * Invariant 5 again: cameras have self-signed certificates, so the identity
 * is the certificate itself, not a CA. GLib finds no CA for it and asks
 * rtspsrc's "accept-certificate", which asks us, on rtspsrc's thread, for
 * every TLS connection (each run's, and each reconnect inside a run). We
 * accept the certificate whose SHA-256 is the pin
 * (hearth_camera_set_pinned_certificate()); without a pin, the first one of
 * the run (trust on first use: the daemon reads it at admission with
 * hearth_camera_get_peer_certificate() and records it). Another certificate
 * fails the handshake, so not one RTSP request, let alone credentials,
 * reaches that device; the run ends REFUSED and "certificate-changed" tells
 * the daemon (camera.c, end_run_if_certificate_refused()). A certificate
 * GLib vouched for by itself (a CA of the system signed it for the URL's
 * host) never reaches the handler: with a pin, such a run sends no request
 * either ("before-send") and is refused.
 *
 * Threads: the handlers run on rtspsrc's thread. They touch only the run's
 * HearthCameraTls (its own lock) and wake the run's GSource on the main
 * context (thread-safe g_source_set_ready_time), which reads what they
 * recorded.
 */
#define G_LOG_DOMAIN "hearth-camera"

#include "camera-tls.h"

#include <string.h>

#define SHA256_HEX_LEN 64

static void
run_tls_clear (gpointer data)
{
  HearthCameraTls *tls = data;

  g_free (tls->pin);
  g_clear_pointer (&tls->wake, g_source_unref);
  g_mutex_clear (&tls->lock);
  g_free (tls->seen);
  g_free (tls->refused);
}

HearthCameraTls *
hearth_camera_tls_new (const char *pin)
{
  HearthCameraTls *tls = g_atomic_rc_box_new0 (HearthCameraTls);

  tls->pin = g_strdup (pin);
  g_mutex_init (&tls->lock);
  return tls;
}

void
hearth_camera_tls_unref (HearthCameraTls *tls)
{
  g_atomic_rc_box_release_full (tls, run_tls_clear);
}

gboolean
hearth_camera_tls_is_sha256_hex (const char *s)
{
  gsize i;

  for (i = 0; s[i] != '\0'; i++) {
    if (!g_ascii_isdigit (s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
      return FALSE;
  }
  return i == SHA256_HEX_LEN;
}

/* SHA-256 of the certificate's DER, 64 lower-case hex; NULL if it has none. */
static char *
certificate_sha256 (GTlsCertificate *certificate)
{
  g_autoptr(GByteArray) der = NULL;

  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL || der->len == 0)
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, der->data, der->len);
}

/*
 * rtspsrc, on its thread, during each TLS handshake that GLib's own checks
 * failed (always, for a self-signed certificate). Accepts the pinned
 * certificate, else the run's first. Touches only @user_data (the HearthCameraTls).
 */
static gboolean
on_accept_certificate (GstElement *src,
                       GTlsConnection *connection, GTlsCertificate *peer,
                       GTlsCertificateFlags errors, gpointer user_data)
{
  HearthCameraTls *tls = user_data;
  g_autofree char *seen = certificate_sha256 (peer);
  gboolean accept = FALSE, first_refusal = FALSE;
  const char *expected;

  if (seen == NULL)
    return FALSE;

  g_mutex_lock (&tls->lock);
  expected = tls->pin != NULL ? tls->pin : tls->seen;
  if (expected == NULL || strcmp (seen, expected) == 0) {
    accept = TRUE;
    if (tls->seen == NULL)
      tls->seen = g_steal_pointer (&seen);
  } else if (tls->refused == NULL) {
    tls->refused = g_steal_pointer (&seen);
    first_refusal = TRUE;
  }
  g_mutex_unlock (&tls->lock);

  /* Thread-safe; a no-op once the run's source is destroyed. */
  if (first_refusal)
    g_source_set_ready_time (tls->wake, 0);
  return accept;
}

/*
 * rtspsrc, on its thread, before each request (after the connection's TLS
 * handshake). With a pin, a run whose certificate was never checked (GLib
 * accepted it by itself: a system CA signed it for the URL's host) sends
 * nothing. @message: a GstRTSPMessage, not looked at.
 */
static gboolean
on_before_send (GstElement *src, gpointer message, gpointer user_data)
{
  HearthCameraTls *tls = user_data;
  gboolean send, first_hold = FALSE;

  g_mutex_lock (&tls->lock);
  send = tls->pin == NULL || tls->seen != NULL;
  if (!send && !tls->unchecked)
    tls->unchecked = first_hold = TRUE;
  g_mutex_unlock (&tls->lock);

  if (first_hold)
    g_source_set_ready_time (tls->wake, 0);
  return send;
}

void
hearth_camera_tls_connect (GstElement *src, HearthCameraTls *tls)
{
  /* Every check on: GLib then asks "accept-certificate" about any
   * certificate it cannot vouch for. A flag masked here would make GLib
   * accept such a certificate by itself, without asking us. No
   * tls-database either: rtspsrc would accept what it vouches for. */
  g_object_set (src, "tls-validation-flags",
                G_TLS_CERTIFICATE_VALIDATE_ALL, NULL);
  g_signal_connect_data (src, "accept-certificate",
                         G_CALLBACK (on_accept_certificate),
                         g_atomic_rc_box_acquire (tls),
                         (GClosureNotify) (void (*) (void))
                         hearth_camera_tls_unref,
                         0);
  if (tls->pin != NULL)
    g_signal_connect_data (src, "before-send",
                           G_CALLBACK (on_before_send),
                           g_atomic_rc_box_acquire (tls),
                           (GClosureNotify) (void (*) (void))
                           hearth_camera_tls_unref,
                           0);
}
