/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* QR codes for pairing payloads (libqrencode), error correction level M. */

/* The QR as text for a terminal: two modules per character cell using the
 * Unicode half blocks, dark on light, with a 4-module quiet zone. (transfer full) */
char *hearth_qr_render_terminal (const char *text, GError **error);
/* A PNG file, @scale pixels per module, 4-module quiet zone. */
gboolean hearth_qr_write_png (const char *text, const char *path, guint scale,
                              GError **error);
/* An SVG file. */
gboolean hearth_qr_write_svg (const char *text, const char *path, GError **error);

G_END_DECLS
