/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthStream: one camera's live stream, one generation at a time.
 *
 * HearthCamera owns one and feeds it on the main context: the init segment
 * and one fMP4 fragment per frame, each tagged with the generation of the
 * pipeline run that made it. The stream wraps each piece into a HearthChunk
 * (immutable, refcounted, carrying the camera UUID and generation), keeps the
 * init segment and the chunks since the latest keyframe (the GOP cache,
 * bounded in bytes), and fans every chunk out to its subscribers — the HTTP
 * writers — who all share the very same chunks and bytes.
 *
 * Isolation: a subscription belongs to one camera and one generation. Data of
 * any other generation is dropped, and when a generation ends every one of
 * its subscriptions is finished and the cache is emptied, so nothing from an
 * older run is ever served after a newer one starts. Chunks and subscriptions
 * both carry the camera UUID so the writer can compare them at the exit.
 *
 * Audio: a camera with AAC gives audio fragments too (one per AAC frame,
 * interleaved in time order with the video's; see fmp4.c). They ride along
 * in the same sequence: dropped before the generation's first keyframe,
 * cached behind the latest keyframe like any frame, delivered in order. A
 * new subscriber therefore starts on a keyframe with the audio muxed after
 * it; the few audio frames just before the keyframe are not sent (a player
 * starts its audio a frame late). Audio fragments are never keyframes and
 * are not frames in the stats (fps, keyframe interval); their bytes count.
 */
#define G_LOG_DOMAIN "hearth-stream"

#include "stream.h"

#include <string.h>

/* Frames the fps and bitrate are measured over (about 4 s at 30 fps). */
#define STATS_WINDOW 120

struct _HearthChunk {
  char *camera_id;
  guint64 generation;
  guint64 sequence;
  gboolean init;
  gboolean keyframe;
  gboolean audio;
  GBytes *bytes;
};

struct _HearthSubscription {
  grefcount ref;          /* the subscriber's, plus one per delivery in flight */
  HearthStream *stream;   /* (nullable) (unowned) NULL once finished or freed */
  char *camera_id;
  guint64 generation;
  HearthStreamChunkFunc chunk_func;
  HearthStreamEndFunc end_func;
  gpointer user_data;
  gboolean primed;        /* has had the init segment and a keyframe */
  gboolean finished;      /* its generation ended */
  gboolean freed;         /* the subscriber let go: no callback any more */
};

struct _HearthStream {
  GObject parent_instance;

  char *camera_id;
  gsize gop_cache_max_bytes;

  guint64 generation;
  gboolean ended;          /* no current generation (hearth_stream_end) */
  guint64 next_sequence;   /* within the generation */
  HearthChunk *init;       /* (nullable) */
  gboolean have_keyframe;  /* this generation has had one */
  GPtrArray *gop;          /* of HearthChunk: from the latest keyframe */
  gsize gop_bytes;
  gboolean gop_overflow;   /* cache dropped until the next keyframe */
  HearthChunk *keyframe;   /* (nullable) the latest, even past the cache */

  /* Stats of the generation; the window is a ring of recent frames. */
  guint64 frames;
  guint64 audio_fragments;
  guint64 bytes;
  guint64 dropped;
  guint64 keyframe_frame;      /* frame number of the latest keyframe */
  gint64 keyframe_time_us;
  guint keyframe_interval;
  gint64 keyframe_interval_us;
  gint64 window_time_us[STATS_WINDOW];
  gsize window_bytes[STATS_WINDOW];

  GPtrArray *subs;         /* of HearthSubscription (each holds no ref here) */
};

G_DEFINE_TYPE (HearthStream, hearth_stream, G_TYPE_OBJECT)

/* ---- chunks ---- */

static HearthChunk *
chunk_new (const char *camera_id, guint64 generation, guint64 sequence,
           gboolean init, gboolean keyframe, GBytes *bytes)
{
  HearthChunk *chunk = g_atomic_rc_box_new0 (HearthChunk);

  chunk->camera_id = g_strdup (camera_id);
  chunk->generation = generation;
  chunk->sequence = sequence;
  chunk->init = init;
  chunk->keyframe = keyframe;
  chunk->bytes = g_bytes_ref (bytes);
  return chunk;
}

static void
chunk_clear (HearthChunk *chunk)
{
  g_free (chunk->camera_id);
  g_bytes_unref (chunk->bytes);
}

/**
 * hearth_chunk_ref:
 *
 * Chunks may be referenced and released from any thread.
 *
 * Returns: (transfer full): @chunk
 */
HearthChunk *
hearth_chunk_ref (HearthChunk *chunk)
{
  g_return_val_if_fail (chunk != NULL, NULL);
  return g_atomic_rc_box_acquire (chunk);
}

void
hearth_chunk_unref (HearthChunk *chunk)
{
  g_return_if_fail (chunk != NULL);
  g_atomic_rc_box_release_full (chunk, (GDestroyNotify) chunk_clear);
}

/* The UUID of the camera these bytes came from. */
const char *
hearth_chunk_get_camera_id (const HearthChunk *chunk)
{
  g_return_val_if_fail (chunk != NULL, NULL);
  return chunk->camera_id;
}

guint64
hearth_chunk_get_generation (const HearthChunk *chunk)
{
  g_return_val_if_fail (chunk != NULL, 0);
  return chunk->generation;
}

/* Position within its generation: 0 is the init segment. */
guint64
hearth_chunk_get_sequence (const HearthChunk *chunk)
{
  g_return_val_if_fail (chunk != NULL, 0);
  return chunk->sequence;
}

gboolean
hearth_chunk_is_init (const HearthChunk *chunk)
{
  g_return_val_if_fail (chunk != NULL, FALSE);
  return chunk->init;
}

gboolean
hearth_chunk_is_keyframe (const HearthChunk *chunk)
{
  g_return_val_if_fail (chunk != NULL, FALSE);
  return chunk->keyframe;
}

/* TRUE for an audio fragment: not a video frame. */
gboolean
hearth_chunk_is_audio (const HearthChunk *chunk)
{
  g_return_val_if_fail (chunk != NULL, FALSE);
  return chunk->audio;
}

/**
 * hearth_chunk_get_bytes:
 *
 * Returns: (transfer none): the init segment or the moof+mdat, shared by
 *   every subscriber
 */
GBytes *
hearth_chunk_get_bytes (const HearthChunk *chunk)
{
  g_return_val_if_fail (chunk != NULL, NULL);
  return chunk->bytes;
}

/* ---- subscriptions ---- */

static HearthSubscription *
subscription_ref (HearthSubscription *sub)
{
  g_ref_count_inc (&sub->ref);
  return sub;
}

static void
subscription_unref (HearthSubscription *sub)
{
  if (g_ref_count_dec (&sub->ref)) {
    g_free (sub->camera_id);
    g_free (sub);
  }
}

static gboolean
subscription_wants_chunks (const HearthSubscription *sub)
{
  return !sub->freed && !sub->finished;
}

/* Calls the subscriber for one chunk, unless it let go meanwhile. */
static void
deliver (HearthSubscription *sub, HearthChunk *chunk)
{
  if (subscription_wants_chunks (sub))
    sub->chunk_func (chunk, sub->user_data);
}

/*
 * Gives a not yet primed subscriber the init segment and what the cache
 * holds, if the cache starts with a keyframe. Callbacks may free this or any
 * other subscription, or end the generation: check before each one.
 */
static void
prime (HearthStream *self, HearthSubscription *sub)
{
  g_autoptr(GPtrArray) chunks = NULL;

  if (sub->primed || self->init == NULL || self->gop->len == 0)
    return;

  /* A snapshot: callbacks may change the cache under us. */
  chunks = g_ptr_array_new_full (self->gop->len + 1,
                                 (GDestroyNotify) hearth_chunk_unref);
  g_ptr_array_add (chunks, hearth_chunk_ref (self->init));
  for (guint i = 0; i < self->gop->len; i++)
    g_ptr_array_add (chunks, hearth_chunk_ref (self->gop->pdata[i]));

  sub->primed = TRUE;
  for (guint i = 0; i < chunks->len; i++)
    deliver (sub, chunks->pdata[i]);
}

/* References to the current subscribers, safe to walk while callbacks run. */
static GPtrArray *
snapshot_subscribers (HearthStream *self)
{
  GPtrArray *copy = g_ptr_array_new_full (self->subs->len,
                                          (GDestroyNotify) subscription_unref);

  for (guint i = 0; i < self->subs->len; i++)
    g_ptr_array_add (copy, subscription_ref (self->subs->pdata[i]));
  return copy;
}

/* ---- the stream ---- */

static void
clear_cache (HearthStream *self)
{
  g_ptr_array_set_size (self->gop, 0);
  self->gop_bytes = 0;
}

/* Ends the current generation: finishes every subscription, then tells each
 * subscriber, and drops everything cached. */
static void
end_generation (HearthStream *self)
{
  g_autoptr(GPtrArray) subs = snapshot_subscribers (self);

  g_clear_pointer (&self->init, hearth_chunk_unref);
  g_clear_pointer (&self->keyframe, hearth_chunk_unref);
  clear_cache (self);
  self->frames = self->bytes = self->dropped = 0;
  self->audio_fragments = 0;
  self->keyframe_frame = 0;
  self->keyframe_time_us = 0;
  self->keyframe_interval = 0;
  self->keyframe_interval_us = 0;
  self->have_keyframe = FALSE;
  self->gop_overflow = FALSE;
  self->next_sequence = 0;

  /* Detach them all first, so that nothing an end_func does (subscribe,
   * push, free another) can reach a subscription of the old generation. */
  for (guint i = 0; i < subs->len; i++) {
    HearthSubscription *sub = subs->pdata[i];

    sub->finished = TRUE;
    sub->stream = NULL;
  }
  g_ptr_array_set_size (self->subs, 0);

  for (guint i = 0; i < subs->len; i++) {
    HearthSubscription *sub = subs->pdata[i];

    if (!sub->freed && sub->end_func != NULL)
      sub->end_func (sub->user_data);
  }
}

static void
hearth_stream_dispose (GObject *object)
{
  HearthStream *self = HEARTH_STREAM (object);

  /* Nobody may be left waiting on a stream that is gone. */
  self->ended = TRUE;
  end_generation (self);

  G_OBJECT_CLASS (hearth_stream_parent_class)->dispose (object);
}

static void
hearth_stream_finalize (GObject *object)
{
  HearthStream *self = HEARTH_STREAM (object);

  g_free (self->camera_id);
  g_ptr_array_unref (self->gop);
  g_ptr_array_unref (self->subs);

  G_OBJECT_CLASS (hearth_stream_parent_class)->finalize (object);
}

static void
hearth_stream_class_init (HearthStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hearth_stream_dispose;
  object_class->finalize = hearth_stream_finalize;
}

static void
hearth_stream_init (HearthStream *self)
{
  self->gop = g_ptr_array_new_with_free_func ((GDestroyNotify) hearth_chunk_unref);
  self->subs = g_ptr_array_new ();
}

/**
 * hearth_stream_new:
 * @camera_id: the camera's UUID; every chunk and subscription carries it
 * @gop_cache_max_bytes: the most the GOP cache may hold; a GOP that grows
 *   past it is not cached (late joiners wait for the next keyframe)
 *
 * The stream starts at generation 0; hearth_stream_begin_generation() moves
 * on, to numbers that only grow for the life of the process.
 *
 * Returns: (transfer full): a new stream
 */
HearthStream *
hearth_stream_new (const char *camera_id, gsize gop_cache_max_bytes)
{
  HearthStream *self;

  g_return_val_if_fail (camera_id != NULL, NULL);

  self = g_object_new (HEARTH_TYPE_STREAM, NULL);
  self->camera_id = g_strdup (camera_id);
  self->gop_cache_max_bytes = gop_cache_max_bytes;
  return self;
}

void
hearth_stream_set_gop_cache_max_bytes (HearthStream *self, gsize max_bytes)
{
  g_return_if_fail (HEARTH_IS_STREAM (self));
  self->gop_cache_max_bytes = max_bytes;
}

const char *
hearth_stream_get_camera_id (HearthStream *self)
{
  g_return_val_if_fail (HEARTH_IS_STREAM (self), NULL);
  return self->camera_id;
}

guint64
hearth_stream_get_generation (HearthStream *self)
{
  g_return_val_if_fail (HEARTH_IS_STREAM (self), 0);
  return self->generation;
}

gboolean
hearth_stream_is_ready (HearthStream *self)
{
  g_return_val_if_fail (HEARTH_IS_STREAM (self), FALSE);
  return !self->ended && self->init != NULL && self->have_keyframe;
}

/**
 * hearth_stream_begin_generation:
 *
 * Subscribers of the ending generation get their end_func (and may free
 * their subscription from it).
 *
 * Returns: the new generation number
 */
guint64
hearth_stream_begin_generation (HearthStream *self)
{
  guint64 now;

  g_return_val_if_fail (HEARTH_IS_STREAM (self), 0);

  g_object_ref (self);
  end_generation (self);
  /* From the monotonic clock: a generation number is never used twice for a
   * camera in this process, even by a new HearthStream of the same camera
   * (after a move, say), so nothing keyed by (camera, generation) outlives
   * the stream that filled it. */
  now = (guint64) g_get_monotonic_time ();
  self->generation = MAX (self->generation + 1, now);
  self->ended = FALSE;
  g_object_unref (self);

  return self->generation;
}

void
hearth_stream_end (HearthStream *self)
{
  g_return_if_fail (HEARTH_IS_STREAM (self));

  g_object_ref (self);
  self->ended = TRUE;
  end_generation (self);
  g_object_unref (self);
}

static gboolean
is_current (HearthStream *self, guint64 generation)
{
  return !self->ended && generation == self->generation;
}

/**
 * hearth_stream_push_init:
 * @init: (transfer none): ftyp+moov
 *
 * One init segment per generation: a second one is refused.
 *
 * Returns: FALSE if the init segment was dropped
 */
gboolean
hearth_stream_push_init (HearthStream *self, guint64 generation, GBytes *init)
{
  g_return_val_if_fail (HEARTH_IS_STREAM (self), FALSE);
  g_return_val_if_fail (init != NULL, FALSE);

  if (!is_current (self, generation)) {
    g_debug ("Camera %s: dropping an init segment of generation %"
             G_GUINT64_FORMAT " (current %" G_GUINT64_FORMAT ")",
             self->camera_id, generation, self->generation);
    return FALSE;
  }
  if (self->init != NULL) {
    g_debug ("Camera %s: dropping a second init segment in generation %"
             G_GUINT64_FORMAT, self->camera_id, generation);
    return FALSE;
  }

  self->init = chunk_new (self->camera_id, generation, self->next_sequence++,
                          TRUE, FALSE, init);
  return TRUE;
}

static void
record_frame (HearthStream *self, gsize size, gboolean keyframe)
{
  gint64 now = g_get_monotonic_time ();
  guint slot = self->frames % STATS_WINDOW;

  if (keyframe) {
    if (self->keyframe_time_us != 0) {
      self->keyframe_interval = self->frames - self->keyframe_frame;
      self->keyframe_interval_us = now - self->keyframe_time_us;
    }
    self->keyframe_frame = self->frames;
    self->keyframe_time_us = now;
  }
  self->window_time_us[slot] = now;
  self->window_bytes[slot] = size;
  self->frames++;
  self->bytes += size;
}

/* Caches @chunk behind the latest keyframe (a keyframe starts the cache
 * over) and hands it to the subscribers. */
static void
cache_and_deliver (HearthStream *self, HearthChunk *chunk)
{
  g_autoptr(GPtrArray) subs = NULL;
  gboolean keyframe = chunk->keyframe;
  guint64 generation = chunk->generation;
  gsize size = g_bytes_get_size (chunk->bytes);

  /* The cache first, so that a subscriber joining from a callback below
   * finds this chunk in it (and is not in the snapshot: no duplicate). */
  if (keyframe) {
    clear_cache (self);
    self->gop_overflow = FALSE;
    self->have_keyframe = TRUE;
    g_clear_pointer (&self->keyframe, hearth_chunk_unref);
    self->keyframe = hearth_chunk_ref (chunk);
  }
  if (!self->gop_overflow) {
    if (size > self->gop_cache_max_bytes - self->gop_bytes ||
        self->gop_bytes > self->gop_cache_max_bytes) {
      /* A GOP without its keyframe is useless: drop it all. */
      g_debug ("Camera %s: GOP over %" G_GSIZE_FORMAT " bytes, not caching "
               "until the next keyframe", self->camera_id,
               self->gop_cache_max_bytes);
      clear_cache (self);
      self->gop_overflow = TRUE;
    } else {
      g_ptr_array_add (self->gop, hearth_chunk_ref (chunk));
      self->gop_bytes += size;
    }
  }

  g_object_ref (self);
  subs = snapshot_subscribers (self);
  for (guint i = 0; i < subs->len; i++) {
    HearthSubscription *sub = subs->pdata[i];

    if (!subscription_wants_chunks (sub))
      continue;
    if (sub->primed) {
      deliver (sub, chunk);
    } else if (keyframe && self->init != NULL &&
               is_current (self, generation)) {
      /* Joined while nothing whole was cached: start at this keyframe. */
      g_autoptr(HearthChunk) init = hearth_chunk_ref (self->init);

      sub->primed = TRUE;
      deliver (sub, init);
      deliver (sub, chunk);
    }
  }
  g_object_unref (self);
}


/**
 * hearth_stream_push_fragment:
 * @fragment: (transfer none): one moof+mdat; every subscriber gets this very
 *   GBytes
 *
 * Fragments of another generation, before the init segment, or before the
 * generation's first keyframe cannot be decoded by anyone and are dropped.
 *
 * Returns: FALSE if the fragment was dropped
 */
gboolean
hearth_stream_push_fragment (HearthStream *self, guint64 generation,
                             GBytes *fragment, gboolean keyframe)
{
  g_autoptr(HearthChunk) chunk = NULL;

  g_return_val_if_fail (HEARTH_IS_STREAM (self), FALSE);
  g_return_val_if_fail (fragment != NULL, FALSE);

  if (!is_current (self, generation) || self->init == NULL)
    return FALSE;
  if (!keyframe && !self->have_keyframe)
    return FALSE;

  chunk = chunk_new (self->camera_id, generation, self->next_sequence++,
                     FALSE, keyframe, fragment);
  record_frame (self, g_bytes_get_size (fragment), keyframe);
  cache_and_deliver (self, chunk);
  return TRUE;
}

/**
 * hearth_stream_push_audio:
 * @fragment: (transfer none): one moof+mdat of the audio track
 *
 * Cached and delivered after the keyframe before it, like a frame; dropped
 * as hearth_stream_push_fragment() drops a non-keyframe.
 *
 * Returns: FALSE if the fragment was dropped
 */
gboolean
hearth_stream_push_audio (HearthStream *self, guint64 generation,
                          GBytes *fragment)
{
  g_autoptr(HearthChunk) chunk = NULL;

  g_return_val_if_fail (HEARTH_IS_STREAM (self), FALSE);
  g_return_val_if_fail (fragment != NULL, FALSE);

  if (!is_current (self, generation) || self->init == NULL ||
      !self->have_keyframe)
    return FALSE;

  chunk = chunk_new (self->camera_id, generation, self->next_sequence++,
                     FALSE, FALSE, fragment);
  chunk->audio = TRUE;
  self->audio_fragments++;
  self->bytes += g_bytes_get_size (fragment);
  cache_and_deliver (self, chunk);
  return TRUE;
}

/**
 * hearth_stream_subscribe:
 * @chunk_func: called for each chunk of this generation, in order
 * @end_func: (nullable): called once when the generation ends; if the stream
 *   has already ended (hearth_stream_end()), before this returns
 *
 * The subscription belongs to this stream's camera and current generation
 * (see hearth_subscription_get_camera_id()).
 *
 * Returns: (transfer full): the subscription; free it with
 *   hearth_subscription_free()
 */
HearthSubscription *
hearth_stream_subscribe (HearthStream *self, HearthStreamChunkFunc chunk_func,
                         HearthStreamEndFunc end_func, gpointer user_data)
{
  HearthSubscription *sub;

  g_return_val_if_fail (HEARTH_IS_STREAM (self), NULL);
  g_return_val_if_fail (chunk_func != NULL, NULL);

  sub = g_new0 (HearthSubscription, 1);
  g_ref_count_init (&sub->ref);
  sub->camera_id = g_strdup (self->camera_id);
  sub->generation = self->generation;
  sub->chunk_func = chunk_func;
  sub->end_func = end_func;
  sub->user_data = user_data;

  if (self->ended) {
    sub->finished = TRUE;
    if (end_func != NULL)
      end_func (user_data);
    return sub;
  }

  sub->stream = self;
  g_ptr_array_add (self->subs, sub);

  g_object_ref (self);
  subscription_ref (sub);
  prime (self, sub);
  subscription_unref (sub);
  g_object_unref (self);

  return sub;
}

/**
 * hearth_subscription_free:
 * @sub: (nullable) (transfer full)
 *
 * No callback reaches @sub after this. Safe from inside any chunk or end
 * callback, for this subscription or another.
 */
void
hearth_subscription_free (HearthSubscription *sub)
{
  if (sub == NULL)
    return;

  sub->freed = TRUE;
  if (sub->stream != NULL) {
    g_ptr_array_remove (sub->stream->subs, sub);
    sub->stream = NULL;
  }
  subscription_unref (sub);
}

/* The UUID of the camera this subscription is for, to compare with each
 * chunk's before its bytes leave. */
const char *
hearth_subscription_get_camera_id (const HearthSubscription *sub)
{
  g_return_val_if_fail (sub != NULL, NULL);
  return sub->camera_id;
}

guint64
hearth_subscription_get_generation (const HearthSubscription *sub)
{
  g_return_val_if_fail (sub != NULL, 0);
  return sub->generation;
}

/* TRUE once the subscription's generation has ended. */
gboolean
hearth_subscription_is_finished (const HearthSubscription *sub)
{
  g_return_val_if_fail (sub != NULL, TRUE);
  return sub->finished;
}

guint
hearth_stream_get_n_subscribers (HearthStream *self)
{
  g_return_val_if_fail (HEARTH_IS_STREAM (self), 0);
  return self->subs->len;
}

/**
 * hearth_stream_ref_latest_keyframe:
 * @init: (out) (transfer full) (optional): the generation's init segment
 * @keyframe: (out) (transfer full): its latest keyframe chunk
 *
 * Returns: FALSE while the current generation has no keyframe yet
 */
gboolean
hearth_stream_ref_latest_keyframe (HearthStream *self, HearthChunk **init,
                                   HearthChunk **keyframe)
{
  g_return_val_if_fail (HEARTH_IS_STREAM (self), FALSE);
  g_return_val_if_fail (keyframe != NULL, FALSE);

  if (init != NULL)
    *init = NULL;
  *keyframe = NULL;
  if (self->ended || self->init == NULL || self->keyframe == NULL)
    return FALSE;
  if (init != NULL)
    *init = hearth_chunk_ref (self->init);
  *keyframe = hearth_chunk_ref (self->keyframe);
  return TRUE;
}

void
hearth_stream_get_stats (HearthStream *self, HearthStreamStats *stats)
{
  guint n;

  g_return_if_fail (HEARTH_IS_STREAM (self));
  g_return_if_fail (stats != NULL);

  memset (stats, 0, sizeof *stats);
  stats->generation = self->generation;
  stats->frames = self->frames;
  stats->audio_fragments = self->audio_fragments;
  stats->bytes = self->bytes;
  stats->subscribers = self->subs->len;
  stats->dropped = self->dropped;
  stats->keyframe_interval = self->keyframe_interval;
  stats->keyframe_interval_s = self->keyframe_interval_us / (double) G_USEC_PER_SEC;

  n = MIN (self->frames, STATS_WINDOW);
  if (n >= 2) {
    guint newest = (self->frames - 1) % STATS_WINDOW;
    guint oldest = (self->frames - n) % STATS_WINDOW;
    gint64 span = self->window_time_us[newest] - self->window_time_us[oldest];
    guint64 bytes = 0;

    /* Bytes that arrived after the oldest frame, over the time they took. */
    for (guint i = 1; i < n; i++)
      bytes += self->window_bytes[(oldest + i) % STATS_WINDOW];
    if (span > 0) {
      stats->fps = (n - 1) * (double) G_USEC_PER_SEC / span;
      stats->bitrate_bps = bytes * 8.0 * G_USEC_PER_SEC / span;
    }
  }
}

/* @sub: (nullable): NULL while hearth_stream_subscribe() is still priming it */
void
hearth_subscription_note_dropped (HearthSubscription *sub, guint n)
{
  if (sub != NULL && sub->stream != NULL)
    sub->stream->dropped += n;
}
