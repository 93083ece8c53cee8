/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * HearthChunk: one immutable, refcounted piece of a camera's stream (the init
 * segment or one fMP4 fragment), tagged with the camera UUID and generation it
 * came from. Every subscriber of a camera shares the same chunks.
 */
typedef struct _HearthChunk HearthChunk;

HearthChunk *hearth_chunk_ref (HearthChunk *chunk);
void hearth_chunk_unref (HearthChunk *chunk);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthChunk, hearth_chunk_unref)
const char *hearth_chunk_get_camera_id (const HearthChunk *chunk);
guint64 hearth_chunk_get_generation (const HearthChunk *chunk);
guint64 hearth_chunk_get_sequence (const HearthChunk *chunk);
gboolean hearth_chunk_is_init (const HearthChunk *chunk);
gboolean hearth_chunk_is_keyframe (const HearthChunk *chunk);
/* An audio fragment (not a video frame, never a keyframe). */
gboolean hearth_chunk_is_audio (const HearthChunk *chunk);
/* (transfer none) */
GBytes *hearth_chunk_get_bytes (const HearthChunk *chunk);

/*
 * HearthStream: a camera's init segment, GOP cache (from the latest keyframe,
 * bounded in bytes) and subscribers, for one generation at a time. Main
 * context only.
 */
#define HEARTH_TYPE_STREAM (hearth_stream_get_type ())
G_DECLARE_FINAL_TYPE (HearthStream, hearth_stream, HEARTH, STREAM, GObject)

typedef struct _HearthSubscription HearthSubscription;

/* Called for each chunk, in order: the init segment, the cached GOP, then live. */
typedef void (*HearthStreamChunkFunc) (HearthChunk *chunk, gpointer user_data);
/* Called once when the generation this subscription belongs to ends (camera
 * reconnected or removed). The subscription is finished after it; the
 * subscriber still calls hearth_subscription_free(). */
typedef void (*HearthStreamEndFunc) (gpointer user_data);

HearthStream *hearth_stream_new (const char *camera_id, gsize gop_cache_max_bytes);
const char *hearth_stream_get_camera_id (HearthStream *self);
/* Applies from the next chunk on. */
void hearth_stream_set_gop_cache_max_bytes (HearthStream *self, gsize max_bytes);
guint64 hearth_stream_get_generation (HearthStream *self);
/* TRUE once the current generation has an init segment and a keyframe. */
gboolean hearth_stream_is_ready (HearthStream *self);

/* Ends the current generation (subscribers get end_func), drops the init
 * segment and GOP cache, and returns the new generation number. */
guint64 hearth_stream_begin_generation (HearthStream *self);
/* Ends the current generation without starting a new one (camera removed). */
void hearth_stream_end (HearthStream *self);

/* Feed from the ingest, on the main context. Data of @generation other than the
 * current one is dropped (returns FALSE). */
gboolean hearth_stream_push_init (HearthStream *self, guint64 generation,
                                  GBytes *init);
gboolean hearth_stream_push_fragment (HearthStream *self, guint64 generation,
                                      GBytes *fragment, gboolean keyframe);
/* A fragment of the camera's audio track; see stream.c on how it is cached. */
gboolean hearth_stream_push_audio (HearthStream *self, guint64 generation,
                                   GBytes *fragment);

/*
 * Subscribes to the current generation. If the stream is ready, @chunk_func is
 * called synchronously for the init segment and each cached chunk before this
 * returns; then for each live chunk. The first chunk is always the init
 * segment and the second a keyframe. If the stream has ended
 * (hearth_stream_end), the subscription is finished at once and @end_func is
 * called before this returns. (transfer full)
 */
HearthSubscription *hearth_stream_subscribe (HearthStream *self,
                                             HearthStreamChunkFunc chunk_func,
                                             HearthStreamEndFunc end_func,
                                             gpointer user_data);
/* Stops delivery (no callback after this) and frees. Safe from inside any
 * callback of this stream. */
void hearth_subscription_free (HearthSubscription *sub);
/* What the subscription is for: the writer compares these with each chunk's
 * camera id before serving its bytes. */
const char *hearth_subscription_get_camera_id (const HearthSubscription *sub);
guint64 hearth_subscription_get_generation (const HearthSubscription *sub);
/* TRUE once its generation has ended (end_func has been called). */
gboolean hearth_subscription_is_finished (const HearthSubscription *sub);
guint hearth_stream_get_n_subscribers (HearthStream *self);

/*
 * The current generation's init segment and latest keyframe chunk (kept even
 * when its GOP outgrew the cache), for snapshots and playlists. Both (transfer
 * full); FALSE (and both NULL) until the generation has had a keyframe.
 */
gboolean hearth_stream_ref_latest_keyframe (HearthStream *self,
                                            HearthChunk **init,
                                            HearthChunk **keyframe);

/* What hearthctl camera stats shows, measured over the last few seconds of
 * the current generation (fps and bitrate 0 until two frames arrived). */
typedef struct {
  guint64 generation;
  guint64 frames;              /* this generation, video only */
  guint64 audio_fragments;     /* this generation */
  guint64 bytes;               /* this generation, fragments only */
  double fps;
  double bitrate_bps;          /* video only: audio is not in the window */
  guint keyframe_interval;     /* frames from the previous keyframe to the last */
  double keyframe_interval_s;
  guint subscribers;
  guint64 dropped;             /* chunks subscribers skipped, this generation */
} HearthStreamStats;

void hearth_stream_get_stats (HearthStream *self, HearthStreamStats *stats);
/* A subscriber skipped @n chunks (slow display); counted in the stats. */
void hearth_subscription_note_dropped (HearthSubscription *sub, guint n);

G_END_DECLS
