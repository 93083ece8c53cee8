/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

G_BEGIN_DECLS

/*
 * A camera's RTSPS certificates: what a run knows about its peer's
 * certificate, and rtspsrc's handlers that check it. Used by camera.c only;
 * see camera-tls.c.
 */

/*
 * What one rtsps:// run knows about its peer's certificate: shared by the
 * main context and rtspsrc's thread, which calls the handlers. Reference
 * counted (g_atomic_rc_box): the handlers' closures hold one until the
 * pipeline is freed, the camera one until the run is torn down.
 */
typedef struct {
  char *pin;          /* (nullable) the camera's pin when the run began;
                       * immutable */
  GSource *wake;      /* the run's source on the main context; set before
                       * the pipeline starts, immutable after */

  GMutex lock;        /* protects the fields below */
  char *seen;         /* (nullable) the certificate the run accepted first;
                       * set once */
  char *refused;      /* (nullable) the first certificate it refused */
  gboolean unchecked; /* a request was held back: pinned, yet no
                       * certificate was checked */
} HearthCameraTls;

/* A run's certificate state with @pin (nullable) (transfer full). */
HearthCameraTls *hearth_camera_tls_new (const char *pin);
void hearth_camera_tls_unref (HearthCameraTls *tls);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthCameraTls, hearth_camera_tls_unref)

/* TRUE if @s is a SHA-256 in 64 lower-case hex digits. */
gboolean hearth_camera_tls_is_sha256_hex (const char *s);

/* Before the run's rtspsrc @src starts: GLib's checks all on, and its
 * "accept-certificate" (and with a pin, "before-send") handlers check the
 * peer against @tls, holding a reference on it until @src is freed. */
void hearth_camera_tls_connect (GstElement *src, HearthCameraTls *tls);

G_END_DECLS
