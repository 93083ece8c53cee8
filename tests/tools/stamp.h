/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Test stamps: an SEI "user data unregistered" message (H.264 NAL type 6, or
 * H.265 prefix SEI, NAL type 39) in every access unit naming the camera that captured it, a frame counter and the capture
 * wall-clock time, followed by a 4-byte check (the start of SHA-256 over those
 * three) so that a damaged stamp is never read as another camera's. The fake camera writes them; hearth-display check reads them.
 */

#define HEARTH_STAMP_UUID_LEN 16

typedef struct {
  guint8 camera_id[16];   /* the fake camera's own id (raw UUID bytes) */
  guint64 counter;        /* frame counter from 0 */
  gint64 capture_time_us; /* g_get_real_time () at capture */
} HearthStamp;

/* Which NAL unit syntax: H.264's 1-byte header or H.265's 2-byte one. */
typedef enum {
  HEARTH_STAMP_H264,
  HEARTH_STAMP_H265,
} HearthStampCodec;

/* "8-4-4-4-12" text <-> 16 raw bytes. */
gboolean hearth_stamp_id_parse (const char *text, guint8 id[16]);
char *hearth_stamp_id_to_string (const guint8 id[16]);

/*
 * A complete SEI NAL unit (header byte 0x06 included, emulation prevention
 * applied, no start code or length prefix) carrying @stamp. (transfer full)
 */
GBytes *hearth_stamp_build_sei_nal (const HearthStamp *stamp);
/* The same for @codec (H.265: a prefix SEI NAL, 2-byte header 4e 01). */
GBytes *hearth_stamp_build_sei_nal_for (const HearthStamp *stamp,
                                        HearthStampCodec codec);

/*
 * Looks through one access unit for a stamp. @nal_length_size is 0 for Annex B
 * byte-stream (start codes), else 1, 2 or 4 for length-prefixed (AVC) samples.
 * Returns TRUE and fills @stamp if a well-formed stamp SEI is found.
 */
gboolean hearth_stamp_find (const guint8 *data, gsize len, guint nal_length_size,
                            HearthStamp *stamp);
/* The same for @codec's NAL units (H.265: length-prefixed as in hvcC
 * samples, or Annex B). hearth_stamp_find() is the H.264 one. */
gboolean hearth_stamp_find_for (const guint8 *data, gsize len,
                                guint nal_length_size, HearthStampCodec codec,
                                HearthStamp *stamp);

G_END_DECLS
