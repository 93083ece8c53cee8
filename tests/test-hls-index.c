/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The HLS route's index (api-hls.c), without a socket: a camera's chunks,
 * from a HearthStream as the route subscribes to it, filed into segments
 * (from each keyframe) and parts (PART_FRAMES frames at the nominal frame
 * rate: these fragments carry no times, so each counts as one nominal frame
 * after the one before); the playlist; what a blocking reload waits for and
 * its query parameters; names that carry the generation; and a new
 * generation that starts a new index, numbered on from the old one.
 */
#include <string.h>

#include "fixture.h"
#include "api-hls.h"

#define CAMERA "0a5b0d34-6d2e-4c38-9d4c-37b1a9e0f001"
#define FPS 30
#define GOP 30                  /* frames from a keyframe to the next */
#define PART 10                 /* frames in a part at FPS (api-hls.c) */

typedef struct {
  HearthTestFixture base;
  HearthStream *stream;
  HearthHlsIndexes *indexes;
  HearthHlsIndex *index;        /* (nullable) of the current generation */
  HearthSubscription *sub;
  GPtrArray *frames;            /* of HearthChunk: this generation's frames */
  guint n_frames;               /* pushed in this generation */
} Fixture;

/* The route is woken from the stream's own source; the test takes what
 * is pending at once instead, as the route does when woken. */
static void
on_wake (gpointer user_data)
{
}

/* Files what the subscription has pending, as the route does; an ended
 * generation ends its index. */
static void
take (Fixture *f)
{
  HearthChunk *chunk;

  if (f->sub == NULL)
    return;
  while ((chunk = hearth_subscription_next (f->sub)) != NULL) {
    if (!hearth_chunk_is_init (chunk))
      g_ptr_array_add (f->frames, hearth_chunk_ref (chunk));
    hearth_hls_index_feed (f->index, chunk);
    hearth_chunk_unref (chunk);
  }
  if (hearth_subscription_is_finished (f->sub) && f->index != NULL)
    hearth_hls_index_end (g_steal_pointer (&f->index));
}

/* Frame @n of the generation, a keyframe every GOP frames. */
static void
push_frame (Fixture *f)
{
  g_autoptr (GBytes) bytes = g_bytes_new_take (g_malloc0 (100), 100);

  g_assert_true (hearth_stream_push_fragment (
      f->stream, hearth_stream_get_generation (f->stream), bytes,
      f->n_frames % GOP == 0));
  f->n_frames++;
  take (f);
}

/* A new generation with its init segment and first keyframe, and its
 * index, subscribed as the route subscribes. */
static guint64
begin_generation (Fixture *f)
{
  g_autoptr (GBytes) init = g_bytes_new_static ("ftyp....moov....", 16);
  guint64 generation;

  /* The generation before ends: its index goes with it. */
  generation = hearth_stream_begin_generation (f->stream);
  take (f);
  g_assert_null (f->index);
  g_clear_pointer (&f->sub, hearth_subscription_free);
  g_ptr_array_set_size (f->frames, 0);
  f->n_frames = 0;
  g_assert_true (hearth_stream_push_init (f->stream, generation, init));
  push_frame (f);
  f->index = hearth_hls_indexes_open (f->indexes, CAMERA, generation, FPS);
  f->sub = hearth_stream_subscribe (f->stream, on_wake, f);
  take (f);
  g_assert_cmpuint (f->frames->len, ==, 1);
  return generation;
}

static void
setup (Fixture *f, gconstpointer data)
{
  hearth_test_fixture_setup (&f->base, data);
  f->stream = hearth_stream_new (CAMERA, 8 * 1024 * 1024);
  f->indexes = hearth_hls_indexes_new (NULL, NULL);
  f->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) hearth_chunk_unref);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->sub, hearth_subscription_free);
  g_clear_pointer (&f->indexes, hearth_hls_indexes_free);
  g_clear_object (&f->stream);
  g_ptr_array_unref (f->frames);
  hearth_test_fixture_teardown (&f->base, data);
}

static guint64
sequence_of (Fixture *f, guint frame)
{
  return hearth_chunk_get_sequence (f->frames->pdata[frame]);
}

/* "seg-G-S.m4s" (or part-) for the segment or part that starts at @frame. */
static char *
name_of (Fixture *f, const char *kind, guint64 generation, guint frame)
{
  return g_strdup_printf ("%s-%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT ".m4s",
                          kind, generation, sequence_of (f, frame));
}

/* Asserts that @name is served as frames [@first, @first + @n). */
static void
assert_serves (Fixture *f, const char *name, guint first, guint n)
{
  g_autoptr (GPtrArray) chunks = hearth_hls_index_lookup (f->index, name);

  g_assert_nonnull (chunks);
  g_assert_cmpuint (chunks->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_true (chunks->pdata[i] == f->frames->pdata[first + i]);
}

static void
assert_not_served (Fixture *f, const char *name)
{
  g_autoptr (GPtrArray) chunks = hearth_hls_index_lookup (f->index, name);

  g_assert_null (chunks);
}

/* How often @what stands in @text. */
static guint
count (const char *text, const char *what)
{
  g_auto (GStrv) between = g_strsplit (text, what, -1);

  return g_strv_length (between) - 1;
}

static void
test_segments_and_parts (Fixture *f, gconstpointer data)
{
  guint64 g = begin_generation (f);
  g_autofree char *text = NULL;
  g_autofree char *map = NULL;
  g_autofree char *hint = NULL;
  g_autofree char *init = g_strdup_printf ("init-%" G_GUINT64_FORMAT ".mp4", g);

  /* Two GOPs: segment 0 whole (frames 0-29), segment 1 filling (30-59). */
  while (f->n_frames < 2 * GOP)
    push_frame (f);
  g_assert_cmpuint (f->frames->len, ==, 2 * GOP);

  text = hearth_hls_index_playlist (f->index);
  g_test_message ("%s", text);
  g_assert_true (g_str_has_prefix (text, "#EXTM3U\n#EXT-X-VERSION:9\n"));
  g_assert_nonnull (strstr (text, "#EXT-X-MEDIA-SEQUENCE:0\n"));
  g_assert_null (strstr (text, "#EXT-X-DISCONTINUITY-SEQUENCE"));
  g_assert_nonnull (strstr (text, "#EXT-X-PART-INF:PART-TARGET=0.333\n"));
  g_assert_nonnull (strstr (text, "CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.999\n"));
  map = g_strdup_printf ("#EXT-X-MAP:URI=\"%s\"\n", init);
  g_assert_nonnull (strstr (text, map));
  /* Three parts of segment 0, two whole ones of segment 1. */
  g_assert_cmpuint (count (text, "#EXT-X-PART:DURATION=0.333,"), ==, 5);
  g_assert_cmpuint (count (text, ",INDEPENDENT=YES"), ==, 2);
  g_assert_cmpuint (count (text, "#EXTINF:1.000,\n"), ==, 1);
  hint = g_strdup_printf ("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-%"
                          G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT ".m4s\"\n",
                          g, sequence_of (f, 2 * PART + GOP));
  g_assert_true (g_str_has_suffix (text, hint));

  /* Each name serves the very chunks of its frames. */
  {
    g_autofree char *seg0 = name_of (f, "seg", g, 0);
    g_autofree char *seg1 = name_of (f, "seg", g, GOP);
    g_autofree char *part0 = name_of (f, "part", g, 0);
    g_autofree char *part1 = name_of (f, "part", g, PART);
    g_autofree char *part4 = name_of (f, "part", g, GOP + PART);
    g_autofree char *open = name_of (f, "part", g, GOP + 2 * PART);
    g_autofree char *inside = name_of (f, "part", g, PART + 1);
    g_autoptr (GPtrArray) init_chunks = hearth_hls_index_lookup (f->index, init);

    assert_serves (f, seg0, 0, GOP);
    assert_serves (f, part0, 0, PART);
    assert_serves (f, part1, PART, PART);
    assert_serves (f, part4, GOP + PART, PART);
    g_assert_nonnull (init_chunks);
    g_assert_cmpuint (init_chunks->len, ==, 1);
    g_assert_true (hearth_chunk_is_init (init_chunks->pdata[0]));
    /* Not yet whole, or no part's start. */
    assert_not_served (f, seg1);
    assert_not_served (f, open);
    assert_not_served (f, inside);
    assert_not_served (f, "index.m3u8");
    assert_not_served (f, "seg-x.m4s");

    /* The frame after the open part's last closes it. */
    push_frame (f);
    assert_serves (f, open, GOP + 2 * PART, PART);
  }
}

/* An audio fragment, as a camera's come: after the video frame it is in
 * time with. */
static void
push_audio (Fixture *f)
{
  g_autoptr (GBytes) bytes = g_bytes_new_take (g_malloc0 (20), 20);

  g_assert_true (hearth_stream_push_audio (
      f->stream, hearth_stream_get_generation (f->stream), bytes));
  take (f);
}

static void
test_audio (Fixture *f, gconstpointer data)
{
  guint64 g = begin_generation (f);
  g_autofree char *part0 = NULL;
  g_autofree char *part1 = NULL;
  g_autofree char *audio = NULL;

  /* Frame, audio, frame, audio, ...: chunk 2n is frame n. */
  push_audio (f);
  while (f->n_frames < PART + 2) {
    push_frame (f);
    push_audio (f);
  }
  g_assert_cmpuint (f->frames->len, ==, 2 * (PART + 2));
  g_assert_true (hearth_chunk_is_audio (f->frames->pdata[2 * PART - 1]));

  /* A part is its frames and the audio after each; audio starts none. */
  part0 = name_of (f, "part", g, 0);
  part1 = name_of (f, "part", g, 2 * PART);
  audio = name_of (f, "part", g, 2 * PART - 1);
  assert_serves (f, part0, 0, 2 * PART);
  assert_not_served (f, part1);
  assert_not_served (f, audio);
  push_frame (f);
  push_frame (f);
  push_frame (f);
  g_assert_true (hearth_hls_index_has (f->index, 0, 0));
  g_assert_false (hearth_hls_index_has (f->index, 0, 1));
}

static void
test_blocking_reload (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) query = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean blocking, has_part;
  guint64 msn = 0, part = 0;

  begin_generation (f);
  /* Before any part is whole: what a first playlist waits for. */
  g_assert_false (hearth_hls_index_has (f->index, 0, 0));
  while (f->n_frames < GOP + PART + 1)
    push_frame (f);
  /* Segment 0 whole; part 0 of segment 1 whole, part 1 filling. */
  g_assert_true (hearth_hls_index_has (f->index, 0, -1));
  g_assert_true (hearth_hls_index_has (f->index, 0, 2));
  g_assert_true (hearth_hls_index_has (f->index, 1, 0));
  g_assert_false (hearth_hls_index_has (f->index, 1, 1));
  g_assert_false (hearth_hls_index_has (f->index, 1, -1));
  g_assert_false (hearth_hls_index_has (f->index, 2, 0));
  while (f->n_frames < GOP + 2 * PART + 1)
    push_frame (f);
  g_assert_true (hearth_hls_index_has (f->index, 1, 1));
  while (f->n_frames < 2 * GOP + 1)
    push_frame (f);
  g_assert_true (hearth_hls_index_has (f->index, 1, -1));
  g_assert_true (hearth_hls_index_has (f->index, 1, 99));

  /* The query: _HLS_msn alone, or with _HLS_part; numbers up to 2^32-1. */
  g_assert_true (hearth_hls_parse_blocking (NULL, &blocking, &msn, &has_part, &part));
  g_assert_false (blocking);
  g_assert_false (has_part);
  g_hash_table_insert (query, "_HLS_msn", "3");
  g_assert_true (hearth_hls_parse_blocking (query, &blocking, &msn, &has_part, &part));
  g_assert_true (blocking);
  g_assert_false (has_part);
  g_assert_cmpuint (msn, ==, 3);
  g_hash_table_insert (query, "_HLS_part", "2");
  g_assert_true (hearth_hls_parse_blocking (query, &blocking, &msn, &has_part, &part));
  g_assert_true (blocking);
  g_assert_true (has_part);
  g_assert_cmpuint (part, ==, 2);
  g_hash_table_insert (query, "_HLS_part", "x");
  g_assert_false (hearth_hls_parse_blocking (query, &blocking, &msn, &has_part, &part));
  g_hash_table_insert (query, "_HLS_part", "-1");
  g_assert_false (hearth_hls_parse_blocking (query, &blocking, &msn, &has_part, &part));
  g_hash_table_insert (query, "_HLS_part", "4294967296");
  g_assert_false (hearth_hls_parse_blocking (query, &blocking, &msn, &has_part, &part));
  /* A part without a segment names nothing. */
  g_hash_table_remove (query, "_HLS_msn");
  g_hash_table_insert (query, "_HLS_part", "1");
  g_assert_false (hearth_hls_parse_blocking (query, &blocking, &msn, &has_part, &part));
  g_hash_table_remove (query, "_HLS_part");
  g_hash_table_insert (query, "_HLS_msn", "4294967296");
  g_assert_true (hearth_hls_parse_blocking (query, &blocking, &msn, &has_part, &part));
  g_assert_false (blocking);
}

static void
test_names (Fixture *f, gconstpointer data)
{
  guint64 g, s;

  g_assert_true (hearth_hls_parse_name ("part-3-120.m4s", "part-", ".m4s", &g, &s));
  g_assert_cmpuint (g, ==, 3);
  g_assert_cmpuint (s, ==, 120);
  g_assert_true (hearth_hls_parse_name ("seg-18446744073709551615-0.m4s", "seg-",
                                        ".m4s", &g, &s));
  g_assert_cmpuint (g, ==, G_MAXUINT64);
  g_assert_true (hearth_hls_parse_name ("init-7.mp4", "init-", ".mp4", &g, NULL));
  g_assert_cmpuint (g, ==, 7);

  g_assert_false (hearth_hls_parse_name ("init-7-1.mp4", "init-", ".mp4", &g, NULL));
  g_assert_false (hearth_hls_parse_name ("part-3.m4s", "part-", ".m4s", &g, &s));
  g_assert_false (hearth_hls_parse_name ("part-3-1-2.m4s", "part-", ".m4s", &g, &s));
  g_assert_false (hearth_hls_parse_name ("part--1.m4s", "part-", ".m4s", &g, &s));
  g_assert_false (hearth_hls_parse_name ("part-3-1.mp4", "part-", ".m4s", &g, &s));
  g_assert_false (hearth_hls_parse_name ("part-3-x.m4s", "part-", ".m4s", &g, &s));
  g_assert_false (hearth_hls_parse_name ("part-3- 1.m4s", "part-", ".m4s", &g, &s));
  g_assert_false (hearth_hls_parse_name ("part-3-18446744073709551616.m4s", "part-",
                                         ".m4s", &g, &s));
  g_assert_false (hearth_hls_parse_name ("part-.m4s", "part-", ".m4s", &g, &s));
  g_assert_false (hearth_hls_parse_name ("seg-1-2.m4s", "part-", ".m4s", &g, &s));
}

static void
test_new_generation (Fixture *f, gconstpointer data)
{
  guint64 first = begin_generation (f);
  guint64 second;
  g_autofree char *old_seg = NULL;
  g_autofree char *old_part = NULL;
  g_autofree char *old_init = g_strdup_printf ("init-%" G_GUINT64_FORMAT ".mp4", first);
  g_autofree char *new_init = NULL;
  g_autofree char *text = NULL;
  g_autofree char *map = NULL;

  while (f->n_frames < 2 * GOP + 1)
    push_frame (f);
  old_seg = name_of (f, "seg", first, 0);
  old_part = name_of (f, "part", first, 0);
  assert_serves (f, old_seg, 0, GOP);

  /* The camera restarts: its index ends with the generation, with all it
   * held (invariant 6). */
  second = begin_generation (f);
  g_assert_cmpuint (second, >, first);
  g_assert_true (hearth_hls_indexes_lookup (f->indexes, CAMERA) == f->index);
  while (f->n_frames < GOP + 1)
    push_frame (f);

  /* Nothing of the old generation is served by the new index... */
  assert_not_served (f, old_seg);
  assert_not_served (f, old_part);
  assert_not_served (f, old_init);
  /* ...whose names carry its own. */
  new_init = g_strdup_printf ("init-%" G_GUINT64_FORMAT ".mp4", second);
  {
    g_autoptr (GPtrArray) init = hearth_hls_index_lookup (f->index, new_init);
    g_autofree char *seg = name_of (f, "seg", second, 0);
    g_autofree char *other = name_of (f, "seg", first, 0);

    g_assert_nonnull (init);
    assert_serves (f, seg, 0, GOP);
    /* The same sequence in the old generation's name: not this index's. */
    if (g_strcmp0 (other, old_seg) != 0)
      assert_not_served (f, other);
  }

  /* One stream going on for a player: media sequence numbers go on from
   * the old index's (segments 0 to 2), one discontinuity later. */
  text = hearth_hls_index_playlist (f->index);
  g_test_message ("%s", text);
  g_assert_nonnull (strstr (text, "#EXT-X-MEDIA-SEQUENCE:3\n"));
  g_assert_nonnull (strstr (text, "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
  map = g_strdup_printf ("#EXT-X-MAP:URI=\"%s\"\n", new_init);
  g_assert_nonnull (strstr (text, map));
  g_assert_true (hearth_hls_index_has (f->index, 3, -1));
  g_assert_false (hearth_hls_index_has (f->index, 4, -1));

  /* Opening the index of another generation replaces the one held. */
  g_clear_pointer (&f->sub, hearth_subscription_free);
  f->index = hearth_hls_indexes_open (f->indexes, CAMERA, second + 1, FPS);
  g_assert_true (hearth_hls_indexes_lookup (f->indexes, CAMERA) == f->index);
  g_assert_null (hearth_hls_index_playlist (f->index));
  assert_not_served (f, new_init);
  g_assert_true (hearth_hls_indexes_open (f->indexes, CAMERA, second + 1, FPS) ==
                 f->index);
}

#define add(path, func) \
  g_test_add ((path), Fixture, NULL, setup, (func), teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  add ("/hearth/hls-index/segments-and-parts", test_segments_and_parts);
  add ("/hearth/hls-index/audio", test_audio);
  add ("/hearth/hls-index/blocking-reload", test_blocking_reload);
  add ("/hearth/hls-index/names", test_names);
  add ("/hearth/hls-index/new-generation", test_new_generation);
  return g_test_run ();
}
