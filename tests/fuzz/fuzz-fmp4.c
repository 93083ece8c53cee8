/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the fMP4 splitter (fmp4.c) and the box readers run on
 * what it splits, as stream.c runs them on a camera's muxed stream. The
 * input is pushed in pieces whose sizes come from its first byte, to try
 * boxes that straddle pushes.
 */
#include "fmp4.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
read_boxes (GBytes *init, HearthFmp4Kind kind, GBytes *bytes)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (bytes, &len);
  const guint8 *payload;
  gsize payload_size;
  gboolean keyframe;
  guint n_samples;
  guint64 decode_time, duration;
  guint32 timescale;
  char fourcc[5];

  if (kind == HEARTH_FMP4_INIT) {
    hearth_fmp4_init_get_sample_entry (p, len, fourcc);
    hearth_fmp4_init_get_audio_sample_entry (p, len, fourcc);
    return;
  }
  hearth_fmp4_moof_starts_with_keyframe (p, len, &keyframe, NULL);
  hearth_fmp4_moof_get_sample_count (p, len, &n_samples, NULL);
  hearth_fmp4_fragment_find_mdat (p, len, &payload, &payload_size);
  if (init != NULL) {
    gsize init_len;
    const guint8 *i = g_bytes_get_data (init, &init_len);

    hearth_fmp4_fragment_get_time (i, init_len, p, len, &decode_time,
                                   &duration, &timescale, NULL);
  }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (HearthFmp4Splitter) splitter = hearth_fmp4_splitter_new ();
  g_autoptr (GBytes) init = NULL;
  gsize piece, offset = 1;

  if (size == 0)
    return 0;
  piece = 1 + data[0] * 7;
  while (offset < size) {
    gsize n = MIN (piece, size - offset);
    HearthFmp4Kind kind;
    GBytes *bytes;
    gboolean keyframe;

    if (!hearth_fmp4_splitter_push (splitter, data + offset, n, NULL))
      break;
    offset += n;
    while (hearth_fmp4_splitter_pop (splitter, &kind, &bytes, &keyframe)) {
      read_boxes (init, kind, bytes);
      if (kind == HEARTH_FMP4_INIT) {
        g_clear_pointer (&init, g_bytes_unref);
        init = bytes;
      } else {
        g_bytes_unref (bytes);
      }
    }
  }
  return 0;
}
