/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Test stamps: an H.264 SEI "user data unregistered" message in every access
 * unit naming the camera that captured it, a frame counter and the capture
 * wall-clock time, followed by a 4-byte check (the start of SHA-256 over those
 * three) so that a damaged stamp is never read as another camera's. The fake camera writes them; hearth-display check reads them.
 */

#define HEARTH_STAMP_UUID_LEN 16

typedef struct {
  guint8 camera_id[16];   /* the fake camera's own id (raw UUID bytes) */
  guint64 counter;        /* frame counter from 0 */
  gint64 capture_time_us; /* g_get_real_time () at capture */
} HearthStamp;

/* "8-4-4-4-12" text <-> 16 raw bytes. */
gboolean hearth_stamp_id_parse (const char *text, guint8 id[16]);
char *hearth_stamp_id_to_string (const guint8 id[16]);

/*
 * A complete SEI NAL unit (header byte 0x06 included, emulation prevention
 * applied, no start code or length prefix) carrying @stamp. (transfer full)
 */
GBytes *hearth_stamp_build_sei_nal (const HearthStamp *stamp);

/*
 * Looks through one access unit for a stamp. @nal_length_size is 0 for Annex B
 * byte-stream (start codes), else 1, 2 or 4 for length-prefixed (AVC) samples.
 * Returns TRUE and fills @stamp if a well-formed stamp SEI is found.
 */
gboolean hearth_stamp_find (const guint8 *data, gsize len, guint nal_length_size,
                            HearthStamp *stamp);

G_END_DECLS
