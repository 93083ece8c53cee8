/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthStream: one camera's live stream (its main or its sub stream), one
 * generation at a time.
 *
 * HearthCamera owns one and feeds it on the main context: the init segment
 * and one fMP4 fragment per frame, each tagged with the generation of the
 * pipeline run that made it. The stream wraps each piece into a HearthChunk
 * (immutable, refcounted, carrying the camera UUID, which of its streams,
 * and generation) and
 * appends it to its ring; readers — the HTTP writers, the HLS indexer — all
 * share the very same chunks and bytes.
 *
 * One way: a push never calls anybody. It appends and makes the stream's
 * wake source ready; when the main loop dispatches it, each reader that had
 * caught up and now has something pending is woken, and takes what it can
 * (hearth_subscription_next) when it can: a display's writer takes as much
 * as its socket will take, and comes back for more when its socket is
 * writable again. A reader owns a cursor (the sequence of the next chunk it
 * takes); nothing is queued per reader.
 *
 * The ring: chunks of the generation, contiguous in sequence, from the
 * oldest one still wanted to the newest. Wanted are those from the latest
 * keyframe on (the GOP cache: what a new reader starts with, as long as the
 * GOP stays within gop_cache_max_bytes) and those a reader's cursor has not
 * passed yet, within gop_cache_max_bytes too: a reader that falls out of the
 * ring (or is told to skip) jumps to the next keyframe, and what it passes
 * is counted in the stats as dropped.
 *
 * Isolation: a subscription belongs to one camera and one generation. Data of
 * any other generation is dropped, and when a generation ends every one of
 * its readers is finished (and woken to see it) and the ring is emptied, so
 * nothing from an older run is ever served after a newer one starts. Chunks
 * and subscriptions both carry the camera UUID so the writer can compare
 * them at the exit.
 *
 * Audio: a camera with AAC gives audio fragments too (one per AAC frame,
 * interleaved in time order with the video's; see fmp4.c). They ride along
 * in the same sequence: dropped before the generation's first keyframe,
 * in the ring like any frame, delivered in order. A new reader therefore
 * starts on a keyframe with the audio muxed after it; the few audio frames
 * just before the keyframe are not sent (a player starts its audio a frame
 * late). Audio fragments are never keyframes and are not frames in the
 * stats (fps, keyframe interval); their bytes count.
 */
#define G_LOG_DOMAIN "hearth-stream"

#include "stream.h"

#include <string.h>

/* Frames the fps and bitrate are measured over (about 4 s at 30 fps). */
#define STATS_WINDOW 120

struct _HearthChunk {
  char *camera_id;
  HearthStreamKind kind;
  guint64 generation;
  guint64 sequence;
  gboolean init;
  gboolean keyframe;
  gboolean audio;
  GBytes *bytes;
};

/* ---- chunks ---- */

static HearthChunk *
chunk_new (const char *camera_id, HearthStreamKind kind, guint64 generation,
           guint64 sequence, gboolean init, gboolean keyframe, GBytes *bytes)
{
  HearthChunk *chunk = g_atomic_rc_box_new0 (HearthChunk);

  chunk->camera_id = g_strdup (camera_id);
  chunk->kind = kind;
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

/* Which of the camera's streams these bytes are of. */
HearthStreamKind
hearth_chunk_get_kind (const HearthChunk *chunk)
{
  g_return_val_if_fail (chunk != NULL, HEARTH_STREAM_MAIN);
  return chunk->kind;
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

/* ---- readers ---- */

struct _HearthSubscription {
  grefcount ref;          /* the reader's, plus one per wake in flight */
  HearthStream *stream;   /* (nullable) (unowned) NULL once finished or freed */
  char *camera_id;
  HearthStreamKind kind;
  guint64 generation;
  HearthStreamWakeFunc wake_func;
  gpointer user_data;
  gboolean sent_init;     /* has taken the init segment */
  gboolean primed;        /* its cursor is on a keyframe or past one */
  gboolean skipping;      /* moving on to the next keyframe */
  guint64 cursor;         /* sequence of the next chunk it takes */
  guint64 joined;         /* the ring's end when it joined or began to skip */
  guint64 skipped;
  gboolean waiting;       /* took everything: wake it for more */
  gboolean finished;      /* its generation ended */
  gboolean freed;         /* the reader let go: no call any more */
};

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

/* ---- the stream ---- */

typedef struct {
  GSource source;
  HearthStream *stream;   /* (unowned) the stream destroys us first */
} WakeSource;

struct _HearthStream {
  GObject parent_instance;

  char *camera_id;
  HearthStreamKind kind;
  gsize gop_cache_max_bytes;
  GMainContext *context;
  GSource *wake_source;    /* ready when readers may have chunks pending */

  guint64 generation;
  gboolean ended;          /* no current generation (hearth_stream_end) */
  guint64 next_sequence;   /* within the generation */
  HearthChunk *init;       /* (nullable) */
  gboolean have_keyframe;  /* this generation has had one */
  HearthChunk *keyframe;   /* (nullable) the latest, even past the cache */
  gboolean gop_whole;      /* the ring holds the latest keyframe's GOP */

  /* Chunks [ring_first, next_sequence), at ring[sequence & (ring_size - 1)]. */
  HearthChunk **ring;
  guint ring_size;         /* a power of two */
  guint64 ring_first;
  gsize ring_bytes;

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

#define RING_MIN_SIZE 64

static HearthChunk *
ring_at (HearthStream *self, guint64 sequence)
{
  return self->ring[sequence & (self->ring_size - 1)];
}

static guint64
keyframe_sequence (HearthStream *self)
{
  return self->keyframe != NULL ? self->keyframe->sequence : 0;
}

/* TRUE if the latest keyframe is in the ring, at or after @sequence. */
static gboolean
keyframe_in_ring_from (HearthStream *self, guint64 sequence)
{
  return self->keyframe != NULL &&
         self->keyframe->sequence >= self->ring_first &&
         self->keyframe->sequence >= sequence;
}

static void
ring_drop_first (HearthStream *self)
{
  HearthChunk **slot = &self->ring[self->ring_first & (self->ring_size - 1)];

  self->ring_bytes -= g_bytes_get_size ((*slot)->bytes);
  g_clear_pointer (slot, hearth_chunk_unref);
  self->ring_first++;
}

static void
ring_clear (HearthStream *self)
{
  while (self->ring_first < self->next_sequence)
    ring_drop_first (self);
  self->ring_first = self->next_sequence;
  self->gop_whole = FALSE;
}

static void
ring_grow (HearthStream *self)
{
  guint size = self->ring_size * 2;
  HearthChunk **ring = g_new0 (HearthChunk *, size);

  for (guint64 s = self->ring_first; s < self->next_sequence; s++)
    ring[s & (size - 1)] = ring_at (self, s);
  g_free (self->ring);
  self->ring = ring;
  self->ring_size = size;
}

/* Drops what nobody wants any more (see the top of the file). */
static void
ring_trim (HearthStream *self)
{
  guint64 keep = self->gop_whole ? keyframe_sequence (self) : self->next_sequence;

  for (guint i = 0; i < self->subs->len; i++) {
    HearthSubscription *sub = self->subs->pdata[i];

    if (sub->primed && !sub->skipping)
      keep = MIN (keep, sub->cursor);
  }
  while (self->ring_first < self->next_sequence &&
         (self->ring_first < keep ||
          self->ring_bytes > self->gop_cache_max_bytes))
    ring_drop_first (self);
}

static void
ring_append (HearthStream *self, HearthChunk *chunk)
{
  if (self->next_sequence - self->ring_first >= self->ring_size)
    ring_grow (self);
  self->ring[chunk->sequence & (self->ring_size - 1)] = hearth_chunk_ref (chunk);
  self->ring_bytes += g_bytes_get_size (chunk->bytes);
  self->next_sequence = chunk->sequence + 1;
}

/* Where a reader's cursor goes when it starts or skips: the latest keyframe
 * if it is usable, else nowhere yet (NULL, the reader waits for one). */
static gboolean
place_cursor (HearthStream *self, HearthSubscription *sub)
{
  gboolean start;

  if (self->init == NULL || self->keyframe == NULL)
    return FALSE;
  if (sub->skipping)
    start = keyframe_in_ring_from (self, sub->cursor);
  else
    start = keyframe_in_ring_from (self, sub->joined) ||
            (self->gop_whole && keyframe_in_ring_from (self, 0));
  if (!start)
    return FALSE;
  if (sub->skipping) {
    guint64 n = self->keyframe->sequence - sub->cursor;

    sub->skipped += n;
    self->dropped += n;
  }
  sub->cursor = self->keyframe->sequence;
  sub->primed = TRUE;
  sub->skipping = FALSE;
  return TRUE;
}

/* Has @sub something to take now? */
static gboolean
has_pending (HearthStream *self, HearthSubscription *sub)
{
  if (sub->finished)
    return TRUE;
  if (sub->primed && !sub->skipping)
    return !sub->sent_init || sub->cursor < self->next_sequence;
  return self->init != NULL && self->keyframe != NULL &&
         self->keyframe->sequence >= MAX (sub->cursor, sub->joined) &&
         self->keyframe->sequence >= self->ring_first;
}

static gboolean
wake_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  HearthStream *self = ((WakeSource *) source)->stream;
  g_autoptr(GPtrArray) woken = NULL;

  g_source_set_ready_time (source, -1);
  woken = g_ptr_array_new_with_free_func ((GDestroyNotify) subscription_unref);
  for (guint i = 0; i < self->subs->len; i++) {
    HearthSubscription *sub = self->subs->pdata[i];

    if (sub->waiting && has_pending (self, sub)) {
      sub->waiting = FALSE;
      g_ptr_array_add (woken, subscription_ref (sub));
    }
  }
  /* A reader's call may free any reader, end the generation, or drop the
   * stream's last reference. */
  g_object_ref (self);
  for (guint i = 0; i < woken->len; i++) {
    HearthSubscription *sub = woken->pdata[i];

    if (!sub->freed)
      sub->wake_func (sub->user_data);
  }
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs wake_funcs = { .dispatch = wake_dispatch };

static void
wake_readers (HearthStream *self)
{
  g_source_set_ready_time (self->wake_source, 0);
}

typedef struct {
  GPtrArray *subs;         /* of HearthSubscription, finished */
} EndNotice;

static gboolean
end_notice_dispatch (gpointer user_data)
{
  EndNotice *notice = user_data;

  for (guint i = 0; i < notice->subs->len; i++) {
    HearthSubscription *sub = notice->subs->pdata[i];

    if (!sub->freed)
      sub->wake_func (sub->user_data);
  }
  return G_SOURCE_REMOVE;
}

static void
end_notice_free (gpointer user_data)
{
  EndNotice *notice = user_data;

  g_ptr_array_unref (notice->subs);
  g_free (notice);
}

/* Wakes finished readers from an idle of their own: the stream may be gone
 * by then. */
static void
notify_end (GMainContext *context, GPtrArray *subs)
{
  EndNotice *notice = g_new0 (EndNotice, 1);
  GSource *source = g_idle_source_new ();

  notice->subs = g_ptr_array_ref (subs);
  g_source_set_callback (source, end_notice_dispatch, notice, end_notice_free);
  g_source_set_name (source, "hearth-stream-end");
  g_source_attach (source, context);
  g_source_unref (source);
}

/* Ends the current generation: finishes every reader (woken later to see
 * it) and drops everything cached. */
static void
end_generation (HearthStream *self)
{
  g_autoptr(GPtrArray) subs = NULL;

  g_clear_pointer (&self->init, hearth_chunk_unref);
  g_clear_pointer (&self->keyframe, hearth_chunk_unref);
  ring_clear (self);
  self->frames = self->bytes = self->dropped = 0;
  self->audio_fragments = 0;
  self->keyframe_frame = 0;
  self->keyframe_time_us = 0;
  self->keyframe_interval = 0;
  self->keyframe_interval_us = 0;
  self->have_keyframe = FALSE;
  self->next_sequence = self->ring_first = 0;

  if (self->subs->len == 0)
    return;
  subs = g_ptr_array_new_full (self->subs->len,
                               (GDestroyNotify) subscription_unref);
  for (guint i = 0; i < self->subs->len; i++) {
    HearthSubscription *sub = self->subs->pdata[i];

    sub->finished = TRUE;
    sub->stream = NULL;
    g_ptr_array_add (subs, subscription_ref (sub));
  }
  g_ptr_array_set_size (self->subs, 0);
  notify_end (self->context, subs);
}

static void
hearth_stream_dispose (GObject *object)
{
  HearthStream *self = HEARTH_STREAM (object);

  /* Nobody may be left waiting on a stream that is gone. */
  self->ended = TRUE;
  end_generation (self);
  if (self->wake_source != NULL) {
    g_source_destroy (self->wake_source);
    g_clear_pointer (&self->wake_source, g_source_unref);
  }

  G_OBJECT_CLASS (hearth_stream_parent_class)->dispose (object);
}

static void
hearth_stream_finalize (GObject *object)
{
  HearthStream *self = HEARTH_STREAM (object);

  g_free (self->camera_id);
  g_free (self->ring);
  g_ptr_array_unref (self->subs);
  g_main_context_unref (self->context);

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
  self->subs = g_ptr_array_new ();
  self->ring_size = RING_MIN_SIZE;
  self->ring = g_new0 (HearthChunk *, self->ring_size);
  self->context = g_main_context_ref_thread_default ();
  self->wake_source = g_source_new (&wake_funcs, sizeof (WakeSource));
  ((WakeSource *) self->wake_source)->stream = self;
  g_source_set_name (self->wake_source, "hearth-stream-wake");
  g_source_attach (self->wake_source, self->context);
}

/**
 * hearth_stream_new:
 * @camera_id: the camera's UUID; every chunk and subscription carries it
 * @gop_cache_max_bytes: the most the ring may hold; a GOP that grows past
 *   it is not cached (late joiners wait for the next keyframe), and a
 *   reader that falls further behind skips to the next keyframe
 *
 * The stream starts at generation 0; hearth_stream_begin_generation() moves
 * on, to numbers that only grow for the life of the process. Its readers
 * are woken on the thread-default main context of the caller.
 *
 * Returns: (transfer full): a new stream
 */
HearthStream *
hearth_stream_new (const char *camera_id, gsize gop_cache_max_bytes)
{
  return hearth_stream_new_kind (camera_id, HEARTH_STREAM_MAIN, gop_cache_max_bytes);
}

/**
 * hearth_stream_new_kind:
 * @kind: which of the camera's streams this is; every chunk and
 *   subscription carries it beside the camera's UUID
 *
 * As hearth_stream_new(), for the camera's main or sub stream: each is its
 * own generation line.
 *
 * Returns: (transfer full): a new stream
 */
HearthStream *
hearth_stream_new_kind (const char *camera_id, HearthStreamKind kind,
                        gsize gop_cache_max_bytes)
{
  HearthStream *self;

  g_return_val_if_fail (camera_id != NULL, NULL);

  self = g_object_new (HEARTH_TYPE_STREAM, NULL);
  self->camera_id = g_strdup (camera_id);
  self->kind = kind;
  self->gop_cache_max_bytes = gop_cache_max_bytes;
  return self;
}

HearthStreamKind
hearth_stream_get_kind (HearthStream *self)
{
  g_return_val_if_fail (HEARTH_IS_STREAM (self), HEARTH_STREAM_MAIN);
  return self->kind;
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
 * Readers of the ending generation are finished, and woken later to see it.
 *
 * Returns: the new generation number
 */
guint64
hearth_stream_begin_generation (HearthStream *self)
{
  guint64 now;

  g_return_val_if_fail (HEARTH_IS_STREAM (self), 0);

  end_generation (self);
  /* From the monotonic clock: a generation number is never used twice for a
   * camera in this process, even by a new HearthStream of the same camera
   * (after a move, say), so nothing keyed by (camera, generation) outlives
   * the stream that filled it. */
  now = (guint64) g_get_monotonic_time ();
  self->generation = MAX (self->generation + 1, now);
  self->ended = FALSE;

  return self->generation;
}

void
hearth_stream_end (HearthStream *self)
{
  g_return_if_fail (HEARTH_IS_STREAM (self));

  self->ended = TRUE;
  end_generation (self);
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

  self->init = chunk_new (self->camera_id, self->kind, generation, self->next_sequence++,
                          TRUE, FALSE, init);
  self->ring_first = self->next_sequence;
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

/* Appends @chunk to the ring (a keyframe starts the GOP cache over), drops
 * what nobody wants and makes the wake source ready. Calls nobody. */
static void
append (HearthStream *self, HearthChunk *chunk)
{
  ring_append (self, chunk);
  if (chunk->keyframe) {
    self->have_keyframe = TRUE;
    g_clear_pointer (&self->keyframe, hearth_chunk_unref);
    self->keyframe = hearth_chunk_ref (chunk);
    self->gop_whole = TRUE;
    /* Readers waiting for a keyframe start here (and keep it in the ring). */
    for (guint i = 0; i < self->subs->len; i++) {
      HearthSubscription *sub = self->subs->pdata[i];

      if (!sub->primed || sub->skipping)
        place_cursor (self, sub);
    }
  }
  ring_trim (self);
  if (self->gop_whole && !keyframe_in_ring_from (self, 0)) {
    /* A GOP without its keyframe is useless to a new reader. */
    g_debug ("Camera %s: GOP over %" G_GSIZE_FORMAT " bytes, not caching "
             "until the next keyframe", self->camera_id,
             self->gop_cache_max_bytes);
    self->gop_whole = FALSE;
  }
  if (self->subs->len > 0)
    wake_readers (self);
}

/**
 * hearth_stream_push_fragment:
 * @fragment: (transfer none): one moof+mdat; every reader gets this very
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

  chunk = chunk_new (self->camera_id, self->kind, generation, self->next_sequence,
                     FALSE, keyframe, fragment);
  record_frame (self, g_bytes_get_size (fragment), keyframe);
  append (self, chunk);
  return TRUE;
}

/**
 * hearth_stream_push_audio:
 * @fragment: (transfer none): one moof+mdat of the audio track
 *
 * In the ring after the keyframe before it, like a frame; dropped as
 * hearth_stream_push_fragment() drops a non-keyframe.
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

  chunk = chunk_new (self->camera_id, self->kind, generation, self->next_sequence,
                     FALSE, FALSE, fragment);
  chunk->audio = TRUE;
  self->audio_fragments++;
  self->bytes += g_bytes_get_size (fragment);
  append (self, chunk);
  return TRUE;
}

/**
 * hearth_stream_subscribe:
 * @wake_func: called on the stream's main context when the reader has
 *   something to take again, or its generation ended; never before this
 *   returns
 *
 * The subscription belongs to this stream's camera and current generation
 * (see hearth_subscription_get_camera_id()).
 *
 * Returns: (transfer full): the subscription; free it with
 *   hearth_subscription_free()
 */
HearthSubscription *
hearth_stream_subscribe (HearthStream *self, HearthStreamWakeFunc wake_func,
                         gpointer user_data)
{
  HearthSubscription *sub;

  g_return_val_if_fail (HEARTH_IS_STREAM (self), NULL);
  g_return_val_if_fail (wake_func != NULL, NULL);

  sub = g_new0 (HearthSubscription, 1);
  g_ref_count_init (&sub->ref);
  sub->camera_id = g_strdup (self->camera_id);
  sub->kind = self->kind;
  sub->generation = self->generation;
  sub->wake_func = wake_func;
  sub->user_data = user_data;
  sub->waiting = TRUE;

  if (self->ended) {
    g_autoptr(GPtrArray) subs = g_ptr_array_new_with_free_func (
        (GDestroyNotify) subscription_unref);

    sub->finished = TRUE;
    g_ptr_array_add (subs, subscription_ref (sub));
    notify_end (self->context, subs);
    return sub;
  }

  sub->stream = self;
  sub->cursor = sub->joined = self->next_sequence;
  place_cursor (self, sub);
  g_ptr_array_add (self->subs, sub);
  wake_readers (self);
  return sub;
}

/**
 * hearth_subscription_next:
 *
 * Returns: (transfer full) (nullable): the next chunk: the init segment
 *   first, then from a keyframe on, in order; NULL if nothing is pending
 *   (the reader is woken when something is) or its generation ended
 */
HearthChunk *
hearth_subscription_next (HearthSubscription *sub)
{
  HearthStream *self;
  HearthChunk *chunk;

  g_return_val_if_fail (sub != NULL, NULL);

  self = sub->stream;
  if (self == NULL || sub->finished || sub->freed)
    return NULL;

  if (sub->primed && !sub->skipping && sub->cursor < self->ring_first) {
    /* Fell out of the ring: on to the next keyframe. */
    sub->skipping = TRUE;
  }
  if ((!sub->primed || sub->skipping) && !place_cursor (self, sub)) {
    if (sub->skipping) {
      guint64 n = self->next_sequence - sub->cursor;

      /* Nothing to start from yet: pass what there is. */
      sub->skipped += n;
      self->dropped += n;
      sub->cursor = self->next_sequence;
    }
    sub->waiting = TRUE;
    return NULL;
  }
  if (!sub->sent_init) {
    sub->sent_init = TRUE;
    return hearth_chunk_ref (self->init);
  }
  if (sub->cursor >= self->next_sequence) {
    sub->waiting = TRUE;
    return NULL;
  }
  chunk = ring_at (self, sub->cursor++);
  return hearth_chunk_ref (chunk);
}

gsize
hearth_subscription_get_pending_bytes (const HearthSubscription *sub)
{
  HearthStream *self;
  gsize bytes = 0;

  g_return_val_if_fail (sub != NULL, 0);

  self = sub->stream;
  if (self == NULL || !sub->primed || sub->skipping)
    return 0;
  for (guint64 s = MAX (sub->cursor, self->ring_first); s < self->next_sequence; s++)
    bytes += g_bytes_get_size (ring_at (self, s)->bytes);
  return bytes;
}

void
hearth_subscription_skip_to_keyframe (HearthSubscription *sub)
{
  g_return_if_fail (sub != NULL);

  if (sub->stream == NULL || !sub->primed)
    return;
  sub->skipping = TRUE;
}

guint64
hearth_subscription_get_skipped (const HearthSubscription *sub)
{
  g_return_val_if_fail (sub != NULL, 0);
  return sub->skipped;
}

/**
 * hearth_subscription_free:
 * @sub: (nullable) (transfer full)
 *
 * Its wake_func is not called after this. Safe from inside any wake_func,
 * for this subscription or another.
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

HearthStreamKind
hearth_subscription_get_kind (const HearthSubscription *sub)
{
  g_return_val_if_fail (sub != NULL, HEARTH_STREAM_MAIN);
  return sub->kind;
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

