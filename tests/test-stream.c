/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for HearthStream with synthetic fragments: what a reader gets
 * when it joins before or after a keyframe, the GOP cache (reset at each
 * keyframe, capped in bytes), generations (ending readers, dropping old
 * data), readers freeing themselves or each other when woken, and that
 * every reader shares the very same bytes; audio fragments riding behind
 * keyframes. The one-way path: nothing calls a reader inside a push; a
 * slow reader's cursor skips to the next keyframe; a reader that fell out
 * of the ring jumps to the latest keyframe; both counted as dropped.
 */
#include <string.h>

#include "stream.h"

#define CAMERA_ID "6f1c2a4e-1111-4c3b-9a7e-000000000001"

typedef struct _Recorder Recorder;

struct _Recorder {
  GPtrArray *chunks;            /* of HearthChunk (refs) */
  guint n_wakes;
  guint n_ends;
  HearthSubscription *sub;
  gboolean stalled;             /* takes nothing when woken (a full socket) */
  /* misbehaviour on demand */
  guint free_self_after;        /* free own subscription at this many chunks */
  HearthSubscription **free_other;  /* free this one on the first chunk */
  gboolean free_self_on_end;
  HearthStream *subscribe_from_callback;
  Recorder *child;
};

static void
recorder_init (Recorder *r)
{
  memset (r, 0, sizeof *r);
  r->chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) hearth_chunk_unref);
}

static void
recorder_clear (Recorder *r)
{
  hearth_subscription_free (r->sub);
  g_ptr_array_unref (r->chunks);
}

static void on_wake (gpointer user_data);

static void
subscribe (HearthStream *stream, Recorder *r)
{
  r->sub = hearth_stream_subscribe (stream, on_wake, r);
}

/* Runs what the main context has ready (the stream's wakes), as the
 * daemon's main loop would, until nothing is left. */
static void
run_pending (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
on_chunk (Recorder *r, HearthChunk *chunk)
{
  g_ptr_array_add (r->chunks, hearth_chunk_ref (chunk));

  if (r->free_self_after != 0 && r->chunks->len == r->free_self_after)
    g_clear_pointer (&r->sub, hearth_subscription_free);
  if (r->free_other != NULL) {
    g_clear_pointer (r->free_other, hearth_subscription_free);
    r->free_other = NULL;
  }
  if (r->subscribe_from_callback != NULL) {
    HearthStream *stream = r->subscribe_from_callback;

    r->subscribe_from_callback = NULL;
    subscribe (stream, r->child);
  }
}

static void
on_end (Recorder *r)
{
  r->n_ends++;
  if (r->free_self_on_end)
    g_clear_pointer (&r->sub, hearth_subscription_free);
  if (r->free_other != NULL) {
    g_clear_pointer (r->free_other, hearth_subscription_free);
    r->free_other = NULL;
  }
}

/* A reader as the writers are: takes all that is pending, then sees
 * whether its generation ended. */
static void
take_all (Recorder *r)
{
  HearthChunk *chunk;

  while (r->sub != NULL && (chunk = hearth_subscription_next (r->sub)) != NULL) {
    on_chunk (r, chunk);
    hearth_chunk_unref (chunk);
  }
  if (r->sub != NULL && hearth_subscription_is_finished (r->sub) &&
      r->n_ends == 0)
    on_end (r);
}

static void
on_wake (gpointer user_data)
{
  Recorder *r = user_data;

  r->n_wakes++;
  if (!r->stalled)
    take_all (r);
}

static GBytes *
fragment_bytes (guint n, gsize size)
{
  guint8 *data = g_malloc (size);

  memset (data, (int) (n & 0xff), size);
  return g_bytes_new_take (data, size);
}

static GBytes *
init_bytes (void)
{
  return g_bytes_new_static ("ftyp....moov....", 16);
}

/* Pushes a fragment whose bytes are all @n. */
static gboolean
push (HearthStream *stream, guint n, gboolean keyframe)
{
  g_autoptr(GBytes) bytes = fragment_bytes (n, 40);

  return hearth_stream_push_fragment (stream,
                                      hearth_stream_get_generation (stream),
                                      bytes, keyframe);
}

/* Pushes an audio fragment whose bytes are all @n. */
static gboolean
push_audio (HearthStream *stream, guint n)
{
  g_autoptr(GBytes) bytes = fragment_bytes (n, 20);

  return hearth_stream_push_audio (stream,
                                   hearth_stream_get_generation (stream),
                                   bytes);
}

static void
push_init (HearthStream *stream)
{
  g_autoptr(GBytes) init = init_bytes ();

  g_assert_true (hearth_stream_push_init (stream,
                                          hearth_stream_get_generation (stream),
                                          init));
}

/* Which fragment (its byte value), or -1 for the init segment. */
static int
chunk_label (HearthChunk *chunk)
{
  if (hearth_chunk_is_init (chunk))
    return -1;
  return ((const guint8 *) g_bytes_get_data (hearth_chunk_get_bytes (chunk),
                                             NULL))[0];
}

/* Asserts the recorder got exactly @labels (-1 = init). */
static void
assert_got (Recorder *r, const int *labels, guint n)
{
  g_autoptr(GString) got = g_string_new (NULL);
  g_autoptr(GString) want = g_string_new (NULL);

  for (guint i = 0; i < r->chunks->len; i++)
    g_string_append_printf (got, "%d ", chunk_label (r->chunks->pdata[i]));
  for (guint i = 0; i < n; i++)
    g_string_append_printf (want, "%d ", labels[i]);
  g_assert_cmpstr (got->str, ==, want->str);
}

/* What a reader got once the main loop has run its wakes. */
#define ASSERT_GOT(r, ...) G_STMT_START { \
  const int labels_[] = { __VA_ARGS__ }; \
  run_pending (); \
  assert_got ((r), labels_, G_N_ELEMENTS (labels_)); \
} G_STMT_END

static void
test_join_after_keyframe (void)
{
  g_autoptr(HearthStream) stream = hearth_stream_new (CAMERA_ID, 1 << 20);
  guint64 generation = hearth_stream_begin_generation (stream);
  Recorder r;

  recorder_init (&r);
  push_init (stream);
  g_assert_true (push (stream, 1, TRUE));
  g_assert_true (push (stream, 2, FALSE));
  g_assert_true (push (stream, 3, FALSE));
  g_assert_true (hearth_stream_is_ready (stream));

  /* init + cached GOP, then live */
  subscribe (stream, &r);
  ASSERT_GOT (&r, -1, 1, 2, 3);
  g_assert_true (push (stream, 4, FALSE));
  ASSERT_GOT (&r, -1, 1, 2, 3, 4);

  g_assert_true (hearth_chunk_is_keyframe (r.chunks->pdata[1]));
  g_assert_false (hearth_chunk_is_keyframe (r.chunks->pdata[2]));
  for (guint i = 0; i < r.chunks->len; i++) {
    HearthChunk *chunk = r.chunks->pdata[i];

    /* Every chunk says which camera and generation it belongs to, as does
     * the subscription: the writer compares them at the exit. */
    g_assert_cmpstr (hearth_chunk_get_camera_id (chunk), ==, CAMERA_ID);
    g_assert_cmpuint (hearth_chunk_get_generation (chunk), ==, generation);
    g_assert_cmpuint (hearth_chunk_get_sequence (chunk), ==, i);
  }
  g_assert_cmpstr (hearth_subscription_get_camera_id (r.sub), ==, CAMERA_ID);
  g_assert_cmpuint (hearth_subscription_get_generation (r.sub), ==,
                    generation);
  g_assert_cmpuint (hearth_stream_get_n_subscribers (stream), ==, 1);

  recorder_clear (&r);
  g_assert_cmpuint (hearth_stream_get_n_subscribers (stream), ==, 0);
}

static void
test_join_before_keyframe (void)
{
  g_autoptr(HearthStream) stream = hearth_stream_new (CAMERA_ID, 1 << 20);
  Recorder early, middle;

  hearth_stream_begin_generation (stream);
  recorder_init (&early);
  recorder_init (&middle);

  /* Nothing to decode yet: nothing delivered. */
  subscribe (stream, &early);
  g_assert_false (push (stream, 1, TRUE));   /* no init yet: dropped */
  push_init (stream);
  g_assert_false (hearth_stream_is_ready (stream));
  subscribe (stream, &middle);
  g_assert_false (push (stream, 2, FALSE));  /* before any keyframe */
  run_pending ();
  g_assert_cmpuint (early.chunks->len, ==, 0);
  g_assert_cmpuint (middle.chunks->len, ==, 0);

  /* The first keyframe brings the init segment along. */
  g_assert_true (push (stream, 3, TRUE));
  g_assert_true (hearth_stream_is_ready (stream));
  g_assert_true (push (stream, 4, FALSE));
  ASSERT_GOT (&early, -1, 3, 4);
  ASSERT_GOT (&middle, -1, 3, 4);

  recorder_clear (&early);
  recorder_clear (&middle);
}

static void
test_gop_cache_reset (void)
{
  g_autoptr(HearthStream) stream = hearth_stream_new (CAMERA_ID, 1 << 20);
  Recorder r;

  hearth_stream_begin_generation (stream);
  recorder_init (&r);
  push_init (stream);
  push (stream, 1, TRUE);
  push (stream, 2, FALSE);
  push (stream, 3, FALSE);
  push (stream, 4, TRUE);
  push (stream, 5, FALSE);

  /* Only the GOP of the latest keyframe is served. */
  subscribe (stream, &r);
  ASSERT_GOT (&r, -1, 4, 5);
  recorder_clear (&r);
}

/* Audio fragments: dropped before the first keyframe (nobody could start
 * there), then cached and delivered in order with the frames; a new
 * subscriber starts on the latest keyframe with the audio after it, never
 * on audio; audio is not a frame in the stats. */
static void
test_audio (void)
{
  g_autoptr(HearthStream) stream = hearth_stream_new (CAMERA_ID, 1 << 20);
  HearthStreamStats stats;
  Recorder live, late;

  hearth_stream_begin_generation (stream);
  recorder_init (&live);
  recorder_init (&late);
  push_init (stream);
  subscribe (stream, &live);
  g_assert_false (push_audio (stream, 1));
  g_assert_false (hearth_stream_is_ready (stream));
  g_assert_true (push (stream, 2, TRUE));
  g_assert_true (push_audio (stream, 3));
  g_assert_true (push (stream, 4, FALSE));
  g_assert_true (push_audio (stream, 5));
  g_assert_true (push (stream, 6, TRUE));
  g_assert_true (push_audio (stream, 7));
  ASSERT_GOT (&live, -1, 2, 3, 4, 5, 6, 7);
  g_assert_true (hearth_chunk_is_audio (live.chunks->pdata[2]));
  g_assert_false (hearth_chunk_is_keyframe (live.chunks->pdata[2]));
  g_assert_false (hearth_chunk_is_audio (live.chunks->pdata[3]));

  subscribe (stream, &late);
  ASSERT_GOT (&late, -1, 6, 7);
  g_assert_true (push_audio (stream, 8));
  ASSERT_GOT (&late, -1, 6, 7, 8);

  hearth_stream_get_stats (stream, &stats);
  g_assert_cmpuint (stats.frames, ==, 3);
  g_assert_cmpuint (stats.audio_fragments, ==, 4);
  g_assert_cmpuint (stats.bytes, ==, 3 * 40 + 4 * 20);
  g_assert_cmpuint (stats.keyframe_interval, ==, 2);

  recorder_clear (&live);
  recorder_clear (&late);
}

static void
test_gop_cache_cap (void)
{
  /* Fragments are 40 bytes: two fit, three do not. */
  g_autoptr(HearthStream) stream = hearth_stream_new (CAMERA_ID, 100);
  Recorder live, late, later;

  hearth_stream_begin_generation (stream);
  recorder_init (&live);
  recorder_init (&late);
  recorder_init (&later);
  push_init (stream);
  subscribe (stream, &live);

  push (stream, 1, TRUE);
  push (stream, 2, FALSE);
  subscribe (stream, &late);
  ASSERT_GOT (&late, -1, 1, 2);

  /* Over the cap: the cache goes; a GOP without its keyframe is never
   * served, so a new subscriber waits for the next keyframe. */
  push (stream, 3, FALSE);
  subscribe (stream, &later);
  run_pending ();
  g_assert_cmpuint (later.chunks->len, ==, 0);
  push (stream, 4, FALSE);
  run_pending ();
  g_assert_cmpuint (later.chunks->len, ==, 0);
  push (stream, 5, TRUE);
  push (stream, 6, FALSE);
  ASSERT_GOT (&later, -1, 5, 6);

  /* Subscribers already streaming lose nothing. */
  ASSERT_GOT (&live, -1, 1, 2, 3, 4, 5, 6);
  ASSERT_GOT (&late, -1, 1, 2, 3, 4, 5, 6);

  recorder_clear (&live);
  recorder_clear (&late);
  recorder_clear (&later);
}

static void
test_generations (void)
{
  g_autoptr(HearthStream) stream = hearth_stream_new (CAMERA_ID, 1 << 20);
  guint64 first = hearth_stream_begin_generation (stream), second;
  g_autoptr(GBytes) old = fragment_bytes (9, 40);
  Recorder a, b, c;

  recorder_init (&a);
  recorder_init (&b);
  recorder_init (&c);
  push_init (stream);
  push (stream, 1, TRUE);
  subscribe (stream, &a);
  ASSERT_GOT (&a, -1, 1);

  /* A reconnect: the old generation's subscribers end, its cache goes. */
  second = hearth_stream_begin_generation (stream);
  g_assert_cmpuint (second, >, first);
  g_assert_cmpuint (a.n_ends, ==, 0);   /* woken later, not from inside */
  run_pending ();
  g_assert_cmpuint (a.n_ends, ==, 1);
  g_assert_true (hearth_subscription_is_finished (a.sub));
  g_assert_false (hearth_stream_is_ready (stream));
  g_assert_cmpuint (hearth_stream_get_n_subscribers (stream), ==, 0);

  /* Data the old pipeline still had in flight is dropped. */
  g_assert_false (hearth_stream_push_init (stream, first, old));
  g_assert_false (hearth_stream_push_fragment (stream, first, old, TRUE));
  subscribe (stream, &b);
  run_pending ();
  g_assert_cmpuint (b.chunks->len, ==, 0);
  push_init (stream);
  push (stream, 2, TRUE);
  ASSERT_GOT (&b, -1, 2);
  ASSERT_GOT (&a, -1, 1);
  g_assert_cmpuint (hearth_chunk_get_generation (b.chunks->pdata[0]), ==,
                    second);
  /* One init segment per generation. */
  g_assert_false (hearth_stream_push_init (stream, second, old));

  /* The camera is removed: subscribers end, later ones end at once. */
  hearth_stream_end (stream);
  run_pending ();
  g_assert_cmpuint (b.n_ends, ==, 1);
  g_assert_false (push (stream, 3, TRUE));
  subscribe (stream, &c);
  g_assert_cmpuint (c.n_ends, ==, 0);
  run_pending ();
  g_assert_cmpuint (c.n_ends, ==, 1);
  g_assert_true (hearth_subscription_is_finished (c.sub));
  g_assert_cmpuint (c.chunks->len, ==, 0);

  /* The end comes once only. */
  hearth_stream_begin_generation (stream);
  run_pending ();
  g_assert_cmpuint (a.n_ends, ==, 1);
  g_assert_cmpuint (b.n_ends, ==, 1);

  recorder_clear (&a);
  recorder_clear (&b);
  recorder_clear (&c);
}

static void
test_free_in_callback (void)
{
  g_autoptr(HearthStream) stream = hearth_stream_new (CAMERA_ID, 1 << 20);
  Recorder self_freeing, killer, victim, bystander;

  hearth_stream_begin_generation (stream);
  recorder_init (&self_freeing);
  recorder_init (&killer);
  recorder_init (&victim);
  recorder_init (&bystander);
  push_init (stream);
  push (stream, 1, TRUE);

  /* Frees itself on its 3rd chunk (init, 1, then live 2). */
  self_freeing.free_self_after = 3;
  subscribe (stream, &self_freeing);
  subscribe (stream, &killer);
  subscribe (stream, &victim);
  subscribe (stream, &bystander);
  run_pending ();
  /* The killer frees the victim on its next chunk. */
  killer.free_other = &victim.sub;

  push (stream, 2, FALSE);
  run_pending ();
  push (stream, 3, FALSE);
  run_pending ();
  g_assert_null (self_freeing.sub);
  g_assert_null (victim.sub);
  ASSERT_GOT (&self_freeing, -1, 1, 2);
  ASSERT_GOT (&killer, -1, 1, 2, 3);
  /* The victim comes after the killer: freed before its turn. */
  ASSERT_GOT (&victim, -1, 1);
  ASSERT_GOT (&bystander, -1, 1, 2, 3);
  g_assert_cmpuint (hearth_stream_get_n_subscribers (stream), ==, 2);

  /* At the end of a generation: one frees itself, one frees the other
   * before the other is woken: that one is never called. */
  killer.free_self_on_end = TRUE;
  killer.free_other = &bystander.sub;
  hearth_stream_begin_generation (stream);
  run_pending ();
  g_assert_cmpuint (killer.n_ends, ==, 1);
  g_assert_null (killer.sub);
  g_assert_null (bystander.sub);
  g_assert_cmpuint (bystander.n_ends, ==, 0);
  g_assert_cmpuint (self_freeing.n_ends, ==, 0);

  recorder_clear (&self_freeing);
  recorder_clear (&killer);
  recorder_clear (&victim);
  recorder_clear (&bystander);
}

static void
test_subscribe_in_callback (void)
{
  g_autoptr(HearthStream) stream = hearth_stream_new (CAMERA_ID, 1 << 20);
  Recorder parent, child;

  hearth_stream_begin_generation (stream);
  recorder_init (&parent);
  recorder_init (&child);
  push_init (stream);
  push (stream, 1, TRUE);
  subscribe (stream, &parent);
  run_pending ();

  /* A reader made while chunk 2 is taken gets it once, from the cache,
   * and then the live ones. */
  parent.subscribe_from_callback = stream;
  parent.child = &child;
  push (stream, 2, FALSE);
  run_pending ();
  push (stream, 3, FALSE);
  ASSERT_GOT (&child, -1, 1, 2, 3);
  ASSERT_GOT (&parent, -1, 1, 2, 3);

  recorder_clear (&parent);
  recorder_clear (&child);
}

static void
test_shared_bytes (void)
{
  g_autoptr(HearthStream) stream = hearth_stream_new (CAMERA_ID, 1 << 20);
  g_autoptr(GBytes) keyframe = fragment_bytes (1, 4000);
  g_autoptr(GBytes) live = fragment_bytes (2, 4000);
  Recorder r[8];

  hearth_stream_begin_generation (stream);
  push_init (stream);
  g_assert_true (hearth_stream_push_fragment (stream, hearth_stream_get_generation (stream), keyframe, TRUE));
  for (guint i = 0; i < G_N_ELEMENTS (r); i++) {
    recorder_init (&r[i]);
    subscribe (stream, &r[i]);
  }
  run_pending ();
  g_assert_true (hearth_stream_push_fragment (stream, hearth_stream_get_generation (stream), live, FALSE));
  run_pending ();

  /* Muxed once, shared by all: the same chunks, the same GBytes, no copy. */
  for (guint i = 0; i < G_N_ELEMENTS (r); i++) {
    g_assert_cmpuint (r[i].chunks->len, ==, 3);
    for (guint k = 0; k < 3; k++)
      g_assert_true (r[i].chunks->pdata[k] == r[0].chunks->pdata[k]);
    g_assert_true (hearth_chunk_get_bytes (r[i].chunks->pdata[1]) == keyframe);
    g_assert_true (hearth_chunk_get_bytes (r[i].chunks->pdata[2]) == live);
  }

  for (guint i = 0; i < G_N_ELEMENTS (r); i++)
    recorder_clear (&r[i]);
}

static void
test_stream_gone (void)
{
  HearthStream *stream = hearth_stream_new (CAMERA_ID, 1 << 20);
  Recorder r;

  hearth_stream_begin_generation (stream);
  recorder_init (&r);
  push_init (stream);
  push (stream, 1, TRUE);
  subscribe (stream, &r);

  run_pending ();

  /* The stream goes away first: the reader is told and can still free
   * its subscription; the chunks it holds stay valid. */
  g_object_unref (stream);
  run_pending ();
  g_assert_cmpuint (r.n_ends, ==, 1);
  g_assert_cmpstr (hearth_chunk_get_camera_id (r.chunks->pdata[1]), ==,
                   CAMERA_ID);
  recorder_clear (&r);
}

/* The camera's push never calls a reader: it appends and makes the wake
 * ready; readers are called from the main loop, and so is a generation's
 * end. */
static void
test_one_way (void)
{
  g_autoptr(HearthStream) stream = hearth_stream_new (CAMERA_ID, 1 << 20);
  Recorder r;

  hearth_stream_begin_generation (stream);
  recorder_init (&r);
  push_init (stream);
  push (stream, 1, TRUE);
  subscribe (stream, &r);
  g_assert_cmpuint (r.n_wakes, ==, 0);
  g_assert_cmpuint (r.chunks->len, ==, 0);
  run_pending ();
  g_assert_cmpuint (r.n_wakes, ==, 1);
  ASSERT_GOT (&r, -1, 1);

  g_assert_true (push (stream, 2, FALSE));
  g_assert_true (push (stream, 3, FALSE));
  g_assert_cmpuint (r.n_wakes, ==, 1);
  g_assert_cmpuint (r.chunks->len, ==, 2);
  /* Two pushes in one turn of the loop: one wake takes both. */
  run_pending ();
  g_assert_cmpuint (r.n_wakes, ==, 2);
  ASSERT_GOT (&r, -1, 1, 2, 3);

  /* A reader that stops taking is not woken again: it comes back for more
   * when it can (its socket is writable). */
  r.stalled = TRUE;
  push (stream, 4, FALSE);
  run_pending ();
  g_assert_cmpuint (r.n_wakes, ==, 3);
  push (stream, 5, FALSE);
  run_pending ();
  g_assert_cmpuint (r.n_wakes, ==, 3);
  g_assert_cmpuint (hearth_subscription_get_pending_bytes (r.sub), ==, 80);
  take_all (&r);
  ASSERT_GOT (&r, -1, 1, 2, 3, 4, 5);
  g_assert_cmpuint (hearth_subscription_get_pending_bytes (r.sub), ==, 0);

  hearth_stream_begin_generation (stream);
  g_assert_cmpuint (r.n_ends, ==, 0);
  g_assert_true (hearth_subscription_is_finished (r.sub));
  run_pending ();
  g_assert_cmpuint (r.n_wakes, ==, 4);
  take_all (&r);
  g_assert_cmpuint (r.n_ends, ==, 1);
  g_assert_null (hearth_subscription_next (r.sub));
  recorder_clear (&r);
}

/* A slow reader is told to skip: its cursor moves to the latest keyframe
 * if one is ahead, or it passes chunks until the next; each skipped chunk
 * is counted. */
static void
test_slow_reader_skips (void)
{
  g_autoptr(HearthStream) stream = hearth_stream_new (CAMERA_ID, 1 << 20);
  HearthStreamStats stats;
  Recorder r, steady;

  hearth_stream_begin_generation (stream);
  recorder_init (&r);
  recorder_init (&steady);
  push_init (stream);
  push (stream, 1, TRUE);
  subscribe (stream, &r);
  subscribe (stream, &steady);
  ASSERT_GOT (&r, -1, 1);

  r.stalled = TRUE;
  push (stream, 2, FALSE);
  push (stream, 3, FALSE);
  push (stream, 4, TRUE);
  push (stream, 5, FALSE);
  run_pending ();
  g_assert_cmpuint (hearth_subscription_get_pending_bytes (r.sub), ==, 4 * 40);
  hearth_subscription_skip_to_keyframe (r.sub);
  take_all (&r);
  ASSERT_GOT (&r, -1, 1, 4, 5);
  g_assert_cmpuint (hearth_subscription_get_skipped (r.sub), ==, 2);

  /* No keyframe ahead: it passes what comes until the next one. */
  push (stream, 6, FALSE);
  push (stream, 7, FALSE);
  run_pending ();
  hearth_subscription_skip_to_keyframe (r.sub);
  take_all (&r);
  r.stalled = FALSE;
  push (stream, 8, FALSE);
  ASSERT_GOT (&r, -1, 1, 4, 5);
  push (stream, 9, TRUE);
  push (stream, 10, FALSE);
  ASSERT_GOT (&r, -1, 1, 4, 5, 9, 10);
  g_assert_cmpuint (hearth_subscription_get_skipped (r.sub), ==, 5);

  /* Nobody else lost anything; the stats count what was skipped. */
  ASSERT_GOT (&steady, -1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
  hearth_stream_get_stats (stream, &stats);
  g_assert_cmpuint (stats.dropped, ==, 5);
  g_assert_cmpuint (stats.subscribers, ==, 2);

  recorder_clear (&r);
  recorder_clear (&steady);
}

/* The ring holds at most gop_cache_max_bytes: a reader that stays behind
 * falls out of it and, when it comes back, jumps to the latest keyframe. */
static void
test_fell_out_of_ring (void)
{
  /* Fragments are 40 bytes: two fit, three do not. */
  g_autoptr(HearthStream) stream = hearth_stream_new (CAMERA_ID, 100);
  HearthStreamStats stats;
  Recorder r;

  hearth_stream_begin_generation (stream);
  recorder_init (&r);
  push_init (stream);
  push (stream, 1, TRUE);
  subscribe (stream, &r);
  ASSERT_GOT (&r, -1, 1);

  r.stalled = TRUE;
  push (stream, 2, FALSE);
  push (stream, 3, FALSE);
  push (stream, 4, TRUE);
  push (stream, 5, FALSE);
  run_pending ();
  take_all (&r);
  ASSERT_GOT (&r, -1, 1, 4, 5);
  g_assert_cmpuint (hearth_subscription_get_skipped (r.sub), ==, 2);
  hearth_stream_get_stats (stream, &stats);
  g_assert_cmpuint (stats.dropped, ==, 2);

  recorder_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/hearth/stream/join-after-keyframe",
                   test_join_after_keyframe);
  g_test_add_func ("/hearth/stream/join-before-keyframe",
                   test_join_before_keyframe);
  g_test_add_func ("/hearth/stream/gop-cache-reset", test_gop_cache_reset);
  g_test_add_func ("/hearth/stream/gop-cache-cap", test_gop_cache_cap);
  g_test_add_func ("/hearth/stream/audio", test_audio);
  g_test_add_func ("/hearth/stream/generations", test_generations);
  g_test_add_func ("/hearth/stream/free-in-callback", test_free_in_callback);
  g_test_add_func ("/hearth/stream/subscribe-in-callback",
                   test_subscribe_in_callback);
  g_test_add_func ("/hearth/stream/shared-bytes", test_shared_bytes);
  g_test_add_func ("/hearth/stream/stream-gone", test_stream_gone);
  g_test_add_func ("/hearth/stream/one-way", test_one_way);
  g_test_add_func ("/hearth/stream/slow-reader-skips", test_slow_reader_skips);
  g_test_add_func ("/hearth/stream/fell-out-of-ring", test_fell_out_of_ring);

  return g_test_run ();
}
