/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib-object.h>

#include "stream-kind.h"

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
HearthStreamKind hearth_chunk_get_kind (const HearthChunk *chunk);
guint64 hearth_chunk_get_generation (const HearthChunk *chunk);
guint64 hearth_chunk_get_sequence (const HearthChunk *chunk);
gboolean hearth_chunk_is_init (const HearthChunk *chunk);
gboolean hearth_chunk_is_keyframe (const HearthChunk *chunk);
/* An audio fragment (not a video frame, never a keyframe). */
gboolean hearth_chunk_is_audio (const HearthChunk *chunk);
/* (transfer none) */
GBytes *hearth_chunk_get_bytes (const HearthChunk *chunk);

/*
 * HearthStream: a camera's init segment and ring of chunks (its tail from the
 * latest keyframe is the GOP cache, bounded in bytes) and its readers, for
 * one generation at a time. Main context only: the context that is the
 * thread default when the stream is made; readers are woken there.
 */
#define HEARTH_TYPE_STREAM (hearth_stream_get_type ())
G_DECLARE_FINAL_TYPE (HearthStream, hearth_stream, HEARTH, STREAM, GObject)

/* A reader: one cursor into a stream's ring, for one generation. */
typedef struct _HearthSubscription HearthSubscription;

/*
 * Called from the stream's own source on its main context — never from
 * inside a push, a subscribe or a generation's end — when a reader that had
 * taken everything (hearth_subscription_next() returned NULL) has something
 * pending again, or when its generation has ended. The reader then takes
 * what it can with hearth_subscription_next(). A reader that stops taking
 * (its socket is full) is not woken again until it has caught up: it comes
 * back for more by itself.
 */
typedef void (*HearthStreamWakeFunc) (gpointer user_data);

/* A camera's main stream. */
HearthStream *hearth_stream_new (const char *camera_id, gsize gop_cache_max_bytes);
HearthStream *hearth_stream_new_kind (const char *camera_id, HearthStreamKind kind,
                                      gsize gop_cache_max_bytes);
HearthStreamKind hearth_stream_get_kind (HearthStream *self);
const char *hearth_stream_get_camera_id (HearthStream *self);
/* Applies from the next chunk on. */
void hearth_stream_set_gop_cache_max_bytes (HearthStream *self, gsize max_bytes);
guint64 hearth_stream_get_generation (HearthStream *self);
/* TRUE once the current generation has an init segment and a keyframe. */
gboolean hearth_stream_is_ready (HearthStream *self);

/* Ends the current generation (its readers are finished and woken), drops
 * the init segment and ring, and returns the new generation number. */
guint64 hearth_stream_begin_generation (HearthStream *self);
/* Ends the current generation without starting a new one (camera removed). */
void hearth_stream_end (HearthStream *self);

/* Feed from the ingest, on the main context. Data of @generation other than the
 * current one is dropped (returns FALSE). Never calls a reader. */
gboolean hearth_stream_push_init (HearthStream *self, guint64 generation,
                                  GBytes *init);
gboolean hearth_stream_push_fragment (HearthStream *self, guint64 generation,
                                      GBytes *fragment, gboolean keyframe);
/* A fragment of the camera's audio track; see stream.c on how it is cached. */
gboolean hearth_stream_push_audio (HearthStream *self, guint64 generation,
                                   GBytes *fragment);

/*
 * A reader of the current generation. What it takes, in order: the init
 * segment, the cached GOP from its keyframe (or, if none is whole, the next
 * keyframe), then live. @wake_func is called later, never before this
 * returns; if the stream has ended (hearth_stream_end) the reader is
 * finished at once and woken. (transfer full)
 */
HearthSubscription *hearth_stream_subscribe (HearthStream *self,
                                             HearthStreamWakeFunc wake_func,
                                             gpointer user_data);
/* The next pending chunk (transfer full), moving the cursor past it; NULL if
 * nothing is pending (the reader will be woken) or the generation ended. */
HearthChunk *hearth_subscription_next (HearthSubscription *sub);
/* Bytes between the cursor and the newest chunk. */
gsize hearth_subscription_get_pending_bytes (const HearthSubscription *sub);
/* The reader is behind: its cursor moves to the next keyframe (the latest
 * in the ring if it is ahead, or else the next to come); what it passes is
 * counted as dropped in the stats. */
void hearth_subscription_skip_to_keyframe (HearthSubscription *sub);
/* Chunks this reader skipped so far (fell out of the ring, or was moved). */
guint64 hearth_subscription_get_skipped (const HearthSubscription *sub);
/* Stops waking (no call after this) and frees. Safe from a wake_func. */
void hearth_subscription_free (HearthSubscription *sub);
/* What the subscription is for: the writer compares these with each chunk's
 * camera id, stream kind and generation before serving its bytes. */
const char *hearth_subscription_get_camera_id (const HearthSubscription *sub);
HearthStreamKind hearth_subscription_get_kind (const HearthSubscription *sub);
guint64 hearth_subscription_get_generation (const HearthSubscription *sub);
/* TRUE once its generation has ended: nothing more comes. */
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
  guint64 dropped;             /* chunks readers skipped, this generation */
} HearthStreamStats;

void hearth_stream_get_stats (HearthStream *self, HearthStreamStats *stats);

G_END_DECLS
