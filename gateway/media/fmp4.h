/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Cuts the byte stream of GStreamer's mp4mux (fragmented, one fragment per
 * frame) into an init segment (ftyp+moov) and fragments (moof+mdat), and tells
 * whether a fragment starts with a sync sample, and which fragments are
 * the video track's and which another's (audio), and where a fragment lies on
 * its track's timeline. Only top-level boxes, the moof/traf/tfhd/tfdt/trun
 * sample flags and durations, and the moov's trex and mdhd timescales are
 * read; decoding is left to real players.
 */
typedef struct _HearthFmp4Splitter HearthFmp4Splitter;

typedef enum {
  HEARTH_FMP4_INIT,      /* ftyp + moov */
  HEARTH_FMP4_FRAGMENT,  /* moof + mdat of the video track: one frame */
  HEARTH_FMP4_AUDIO,     /* moof + mdat of another track (the camera's
                          * audio); never a keyframe */
} HearthFmp4Kind;

HearthFmp4Splitter *hearth_fmp4_splitter_new (void);
void hearth_fmp4_splitter_free (HearthFmp4Splitter *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthFmp4Splitter, hearth_fmp4_splitter_free)

/* Appends muxer output. Fails (HEARTH_ERROR_MEDIA) on a malformed box. */
gboolean hearth_fmp4_splitter_push (HearthFmp4Splitter *self,
                                    const guint8 *data, gsize len,
                                    GError **error);

/*
 * Takes the next complete unit, if any. Other top-level boxes (e.g. mfra,
 * sidx, free) are dropped. (transfer full) on @bytes.
 */
gboolean hearth_fmp4_splitter_pop (HearthFmp4Splitter *self,
                                   HearthFmp4Kind *kind,
                                   GBytes **bytes,
                                   gboolean *keyframe);

/* Both take a moof box, possibly followed by more bytes (a whole fragment).
 * Sets *keyframe to whether the first sample of this moof is a sync sample.
 * Fails (HEARTH_ERROR_MEDIA) on a malformed moof. */
gboolean hearth_fmp4_moof_starts_with_keyframe (const guint8 *moof, gsize len,
                                                gboolean *keyframe,
                                                GError **error);

/* Sets *n_samples to the number of samples (frames) in this moof's first
 * track fragment. Fails (HEARTH_ERROR_MEDIA) on a malformed moof. */
gboolean hearth_fmp4_moof_get_sample_count (const guint8 *moof, gsize len,
                                            guint *n_samples,
                                            GError **error);

/* The four-character code of the first video sample entry in an init
 * segment (ftyp+moov): "avc1", "avc3", "hvc1", "hev1", … in @fourcc (5
 * bytes, NUL-terminated). FALSE if there is none or a box is malformed. */
gboolean hearth_fmp4_init_get_sample_entry (const guint8 *init, gsize len,
                                            char fourcc[5]);

/* The same for the first audio track: "mp4a" for AAC. */
gboolean hearth_fmp4_init_get_audio_sample_entry (const guint8 *init, gsize len,
                                                  char fourcc[5]);

/* The payload of the mdat box in a fragment (moof+mdat): for one frame, its
 * length-prefixed NAL units. FALSE if there is none or a box is malformed. */
gboolean hearth_fmp4_fragment_find_mdat (const guint8 *data, gsize len,
                                         const guint8 **payload, gsize *size);

/* Where a fragment (moof+mdat) lies on its track's timeline: the decode time
 * of its first sample (tfdt) and the duration of all its samples (trun,
 * tfhd or the init segment's trex), both in the track's timescale (the
 * init segment's mdhd). Fails (HEARTH_ERROR_MEDIA) if a box is malformed or
 * one of them is not said. */
gboolean hearth_fmp4_fragment_get_time (const guint8 *init, gsize init_len,
                                        const guint8 *fragment, gsize len,
                                        guint64 *decode_time,
                                        guint64 *duration,
                                        guint32 *timescale,
                                        GError **error);

G_END_DECLS
