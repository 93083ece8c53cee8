/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GET /v1/cameras/{id}/hls/…: LL-HLS cut from the camera's own fragments.
 *
 * A HlsIndex per camera, made at the first HLS request, subscribes to the
 * camera's HearthStream like any display and groups the shared, refcounted
 * chunks (one fMP4 fragment per frame) into segments that start on a
 * keyframe, and parts of about PART_FRAMES video frames. Durations are the
 * media's own, on the generation's timeline, which starts at 0 (mp4mux
 * counts from its first buffer): a part runs from its first video frame's
 * decode time (tfdt) to the next part's, and a segment is its parts. The
 * part target is PART_FRAMES frames at the camera's nominal frame rate. A
 * part ends before the video frame that would take it past the target, as
 * far as that frame's own duration (trun) says; a camera's frames come with
 * jitter, and mp4mux writes the nominal duration, so if the next frame then
 * comes later than that, the frame before it begins the next part instead.
 * So no part is longer than the target (but for a gap longer than one), and
 * only a segment's last part may be much shorter. A camera's audio fragments
 * (see stream.c) come interleaved in time order, each after the video frame
 * it is in time with, so they go into that frame's part: a part is closed
 * only when the next video frame (or keyframe) arrives, and audio never makes
 * a part of its own. Nothing is re-muxed or copied:
 * a segment or part response is the very chunks, appended one by one, each
 * checked at the exit against the camera and generation the request resolved
 * to (invariant 3).
 *
 *   index.m3u8                   playlist; ?_HLS_msn=M&_HLS_part=P blocks
 *                                until that part exists (at most BLOCK_MS)
 *   init-G.mp4                   the init segment of generation G (EXT-X-MAP)
 *   seg-G-S.m4s, part-G-S.m4s    a segment or part whose first chunk has
 *                                sequence S in generation G
 *
 * The playlist ends with EXT-X-PRELOAD-HINT naming the next part (the one
 * being filled, or the one the next frame starts). A request for that part
 * before it is whole is held until it is, at most PRELOAD_WAIT_PARTS part
 * targets, then answered 503 "unavailable" (ask for the playlist again); any
 * other part or segment not (or no longer) held is a 404 at once. Held
 * requests count against MAX_WAITERS with blocked playlist reloads, and
 * whoever is answered late is asked about again at the choke point first.
 *
 * Names carry the generation and the chunk sequence, and an index belongs to
 * one camera and one generation: a name of another camera (whose index does
 * not hold it) or of another generation answers 404. When the generation
 * ends the index is dropped with everything it held (invariant 6); the next
 * request builds one for the new generation. To a player reloading the
 * playlist that is one stream going on: the new index numbers its segments
 * on from the old one's (media sequence numbers never go back), with its own
 * EXT-X-MAP, and its EXT-X-DISCONTINUITY-SEQUENCE one higher, as if the
 * EXT-X-DISCONTINUITY before its first segment had been there and slid out
 * with the old segments. Only those two numbers outlive an index.
 */
#define G_LOG_DOMAIN "hearth-api-hls"

#include "api-hls.h"
#include "api-cameras.h"
#include "error.h"
#include "fmp4.h"

#include <string.h>

/* The part target is this many frames at the camera's nominal frame rate (a
 * third of a second at 30 fps). */
#define PART_FRAMES 10
/* Segments kept besides the one being filled, and the most they may hold
 * together (older segments go first; the one being filled always stays). */
#define MAX_SEGMENTS 4
#define MAX_BYTES (32 * 1024 * 1024)
/* Longest a blocking playlist reload is held. */
#define BLOCK_MS 3000
/* Blocked playlist and hinted part requests per camera. */
#define MAX_WAITERS 64
/* Longest a request for the hinted part is held, in part targets. */
#define PRELOAD_WAIT_PARTS 3

typedef struct {
  guint64 msn;                /* media sequence number */
  GPtrArray *chunks;          /* of HearthChunk, from a keyframe */
  GArray *part_ends;          /* of guint: chunks->len at each closed part */
  GArray *part_durations;     /* of guint64: each closed part's, in ticks */
  guint64 duration;           /* of the closed parts, in ticks */
  guint64 part_start;         /* decode time of the open part's first frame */
  guint last_video;           /* index in chunks of the last video frame */
  guint64 last_video_start;   /* ... and its decode time */
  gsize bytes;
  gboolean complete;          /* the next keyframe arrived */
} Segment;

typedef struct _HlsIndex HlsIndex;

/* What a camera's next index numbers on from. */
typedef struct {
  guint64 next_msn;
  guint64 discontinuity;      /* of the last index that had a segment */
} HlsNumbers;

typedef struct {
  HearthHeldRequest held;
  HlsIndex *index;
  guint64 msn;
  gint64 part;                /* -1: the whole segment */
  char *part_name;            /* (nullable) a hinted part, not a playlist */
  guint64 part_sequence;      /* ... its first chunk */
  GSource *timeout;
} HlsWaiter;

struct _HlsIndex {
  HearthHlsIndexes *indexes;  /* unowned: the route's state, holding us */
  GHashTable *table;          /* unowned: the one holding us */
  GHashTable *numbers;        /* unowned: camera UUID → HlsNumbers */
  char *camera_id;
  guint64 generation;
  double fps;                 /* the camera's nominal frame rate */
  guint32 timescale;          /* the video track's ticks per second; 0 until
                               * the first frame */
  guint64 part_target;        /* in ticks */
  guint64 video_end;          /* end of the last video frame, in ticks */
  HearthSubscription *sub;
  HearthChunk *init;          /* (nullable) */
  GPtrArray *segments;        /* of Segment, oldest first */
  gsize bytes;                /* of all segments */
  guint64 first_msn;
  guint64 next_msn;
  guint64 discontinuity;      /* EXT-X-DISCONTINUITY-SEQUENCE */
  GPtrArray *waiters;         /* of HlsWaiter */
};

/* The route's state. */
struct _HearthHlsIndexes {
  HearthAccess *access;       /* (nullable) only a route's indexes serve */
  HearthCameras *cameras;     /* (nullable) ... and look cameras up */
  GHashTable *by_camera;      /* camera UUID → HlsIndex */
  GHashTable *numbers;        /* camera UUID → HlsNumbers */
};

static void index_answer_waiters (HlsIndex *index, gboolean all);
static void serve_media (HlsIndex *index, SoupServerMessage *msg, const char *camera_id,
                         gint64 display_id, gint64 household_id, const char *name);

/* ---- segments ---- */

static void
segment_free (Segment *seg)
{
  g_ptr_array_unref (seg->chunks);
  g_array_unref (seg->part_ends);
  g_array_unref (seg->part_durations);
  g_free (seg);
}

static guint
segment_n_parts (const Segment *seg)
{
  return seg->part_ends->len;
}

static guint
part_start (const Segment *seg, guint part)
{
  return part == 0 ? 0 : g_array_index (seg->part_ends, guint, part - 1);
}

static guint
part_end (const Segment *seg, guint part)
{
  return g_array_index (seg->part_ends, guint, part);
}

static guint64
part_duration (const Segment *seg, guint part)
{
  return g_array_index (seg->part_durations, guint64, part);
}

/* Chunks after the last closed part: the open part, which always begins
 * with a video frame. */
static gboolean
has_open_part (const Segment *seg)
{
  return seg->chunks->len > part_start (seg, segment_n_parts (seg));
}

static Segment *
current_segment (HlsIndex *index)
{
  Segment *seg;

  if (index->segments->len == 0)
    return NULL;
  seg = g_ptr_array_index (index->segments, index->segments->len - 1);
  return seg->complete ? NULL : seg;
}

/* Ends the open part before chunk @end, a video frame (or the one about to
 * be added) whose decode time is @end_time: the next part's start. */
static void
close_part (Segment *seg, guint end, guint64 end_time)
{
  guint64 duration = end_time > seg->part_start ? end_time - seg->part_start : 0;

  if (end > part_start (seg, segment_n_parts (seg))) {
    g_array_append_val (seg->part_ends, end);
    g_array_append_val (seg->part_durations, duration);
    seg->duration += duration;
    seg->part_start = end_time;
  }
}

/* ---- the index ---- */

static void
waiter_free (HlsWaiter *waiter)
{
  if (waiter->timeout != NULL) {
    g_source_destroy (waiter->timeout);
    g_source_unref (waiter->timeout);
  }
  hearth_held_request_clear (&waiter->held);
  g_free (waiter->part_name);
  g_free (waiter);
}

static void
index_free (HlsIndex *index)
{
  /* The next index of this camera numbers on from ours, if we had any. */
  if (index->next_msn > index->first_msn) {
    HlsNumbers *numbers = g_new0 (HlsNumbers, 1);

    numbers->next_msn = index->next_msn;
    numbers->discontinuity = index->discontinuity;
    g_hash_table_replace (index->numbers, g_strdup (index->camera_id), numbers);
  }

  /* Blocked requests get the answer they can still get: none. */
  for (guint i = 0; i < index->waiters->len; i++) {
    HlsWaiter *waiter = index->waiters->pdata[i];

    if (!hearth_held_request_is_gone (&waiter->held)) {
      hearth_http_reply_unavailable (waiter->held.msg, "the camera restarted; try again");
      hearth_held_request_resume (&waiter->held);
    }
  }
  g_ptr_array_unref (index->waiters);
  g_clear_pointer (&index->sub, hearth_subscription_free);
  g_clear_pointer (&index->init, hearth_chunk_unref);
  g_ptr_array_unref (index->segments);
  g_free (index->camera_id);
  g_free (index);
}

static void
set_timescale (HlsIndex *index, guint32 timescale)
{
  index->timescale = timescale;
  index->part_target = MAX (1, (guint64) (PART_FRAMES * timescale / index->fps + 0.5));
}

/*
 * Where the video chunk @chunk lies on the generation's timeline, in the
 * index's timescale. A fragment that does not say (mp4mux's always do) is
 * put right after the frame before it, one nominal frame long.
 */
static void
chunk_time (HlsIndex *index, HearthChunk *chunk, guint64 *start,
            guint64 *duration)
{
  GBytes *bytes = hearth_chunk_get_bytes (chunk);
  g_autoptr (GError) error = NULL;
  guint32 timescale;

  if (index->init != NULL &&
      hearth_fmp4_fragment_get_time (
          g_bytes_get_data (hearth_chunk_get_bytes (index->init), NULL),
          g_bytes_get_size (hearth_chunk_get_bytes (index->init)),
          g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
          start, duration, &timescale, &error) &&
      (index->timescale == 0 || timescale == index->timescale)) {
    if (index->timescale == 0)
      set_timescale (index, timescale);
    return;
  }
  g_debug ("Camera %s: a frame without its time (%s); counted as one frame "
           "after the one before", index->camera_id,
           error != NULL ? error->message : "another timescale");
  if (index->timescale == 0)
    set_timescale (index, 90000);
  *start = index->video_end;
  *duration = MAX (1, (guint64) (index->timescale / index->fps + 0.5));
}

static void
on_index_chunk (HearthChunk *chunk, gpointer user_data)
{
  HlsIndex *index = user_data;
  Segment *seg;
  guint64 start = 0, duration = 0;
  gboolean video;

  /* Only this camera's generation is ever filed here. */
  if (g_strcmp0 (hearth_chunk_get_camera_id (chunk), index->camera_id) != 0 ||
      hearth_chunk_get_generation (chunk) != index->generation)
    return;

  if (hearth_chunk_is_init (chunk)) {
    g_clear_pointer (&index->init, hearth_chunk_unref);
    index->init = hearth_chunk_ref (chunk);
    return;
  }

  seg = current_segment (index);
  if (seg == NULL && !hearth_chunk_is_keyframe (chunk))
    return; /* not after a keyframe: cannot start a segment */

  video = !hearth_chunk_is_audio (chunk);
  if (video)
    chunk_time (index, chunk, &start, &duration);

  /* A part (and a segment) is whole once the next frame is here: the audio
   * before it was in time with the frame before. */
  if (video && seg != NULL && has_open_part (seg)) {
    /* The open part's last frame lasts longer than it said: it begins the
     * next part, if it is not the open part's only frame. */
    if (start > seg->part_start + index->part_target &&
        seg->last_video > part_start (seg, segment_n_parts (seg)))
      close_part (seg, seg->last_video, seg->last_video_start);
    if (hearth_chunk_is_keyframe (chunk) ||
        start + duration > seg->part_start + index->part_target)
      close_part (seg, seg->chunks->len, start);
  }
  if (hearth_chunk_is_keyframe (chunk)) {
    if (seg != NULL)
      seg->complete = TRUE;
    seg = g_new0 (Segment, 1);
    seg->msn = index->next_msn++;
    seg->chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) hearth_chunk_unref);
    seg->part_ends = g_array_new (FALSE, FALSE, sizeof (guint));
    seg->part_durations = g_array_new (FALSE, FALSE, sizeof (guint64));
    g_ptr_array_add (index->segments, seg);
  }
  if (video) {
    if (!has_open_part (seg))
      seg->part_start = start;
    seg->last_video = seg->chunks->len;
    seg->last_video_start = start;
    index->video_end = start + duration;
  }

  g_ptr_array_add (seg->chunks, hearth_chunk_ref (chunk));
  seg->bytes += g_bytes_get_size (hearth_chunk_get_bytes (chunk));
  index->bytes += g_bytes_get_size (hearth_chunk_get_bytes (chunk));
  while (index->segments->len > 1 &&
         (index->segments->len > MAX_SEGMENTS + 1 || index->bytes > MAX_BYTES)) {
    Segment *oldest = index->segments->pdata[0];

    index->bytes -= oldest->bytes;
    g_ptr_array_remove_index (index->segments, 0);
  }
  if (index->bytes > MAX_BYTES) {
    /* One GOP larger than all we keep: none of it until the next keyframe. */
    g_ptr_array_set_size (index->segments, 0);
    index->bytes = 0;
    return;
  }
  index_answer_waiters (index, FALSE);
}

static void
on_index_end (gpointer user_data)
{
  HlsIndex *index = user_data;

  /* The generation is over: nothing of it is served any more. */
  g_hash_table_remove (index->table, index->camera_id);
}

/* Takes all that is pending; FALSE if the generation ended (the index is
 * gone). */
static gboolean
index_take (HlsIndex *index)
{
  HearthChunk *chunk;

  while ((chunk = hearth_subscription_next (index->sub)) != NULL) {
    on_index_chunk (chunk, index);
    hearth_chunk_unref (chunk);
  }
  if (!hearth_subscription_is_finished (index->sub))
    return TRUE;
  on_index_end (index);
  return FALSE;
}

static void
on_index_wake (gpointer user_data)
{
  index_take (user_data);
}

HearthHlsIndexes *
hearth_hls_indexes_new (HearthAccess *access, HearthCameras *cameras)
{
  HearthHlsIndexes *self = g_new0 (HearthHlsIndexes, 1);

  self->access = access != NULL ? g_object_ref (access) : NULL;
  self->cameras = cameras != NULL ? g_object_ref (cameras) : NULL;
  self->by_camera = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                           (GDestroyNotify) index_free);
  self->numbers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return self;
}

void
hearth_hls_indexes_free (HearthHlsIndexes *self)
{
  if (self == NULL)
    return;
  /* The indexes first: they leave their numbers behind. */
  g_hash_table_unref (self->by_camera);
  g_hash_table_unref (self->numbers);
  g_clear_object (&self->cameras);
  g_clear_object (&self->access);
  g_free (self);
}

/* A new index of @id's @generation, in place of the one before, which
 * leaves its numbers behind for it. No chunk is filed yet. */
static HlsIndex *
index_new (HearthHlsIndexes *indexes, const char *id, guint64 generation,
           double fps)
{
  HlsIndex *index;
  const HlsNumbers *numbers;

  g_hash_table_remove (indexes->by_camera, id);
  index = g_new0 (HlsIndex, 1);
  index->indexes = indexes;
  index->table = indexes->by_camera;
  index->numbers = indexes->numbers;
  index->camera_id = g_strdup (id);
  numbers = g_hash_table_lookup (indexes->numbers, id);
  if (numbers != NULL) {
    index->first_msn = index->next_msn = numbers->next_msn;
    index->discontinuity = numbers->discontinuity + 1;
  }
  index->generation = generation;
  index->fps = fps > 0 ? fps : 30;
  index->segments = g_ptr_array_new_with_free_func ((GDestroyNotify) segment_free);
  index->waiters = g_ptr_array_new_with_free_func ((GDestroyNotify) waiter_free);
  g_hash_table_insert (indexes->by_camera, index->camera_id, index);
  return index;
}

/* The index of @camera's current generation, made if needed. */
static HlsIndex *
get_index (HearthHlsIndexes *indexes, HearthCamera *camera)
{
  HearthStream *stream = hearth_camera_get_stream (camera);
  const char *id = hearth_camera_get_id (camera);
  HlsIndex *index = g_hash_table_lookup (indexes->by_camera, id);
  double fps = 0;

  if (index != NULL && index->generation == hearth_stream_get_generation (stream))
    return index;
  if (!hearth_camera_get_video_info (camera, NULL, NULL, NULL, &fps))
    fps = 0;
  index = index_new (indexes, id, hearth_stream_get_generation (stream), fps);
  /* Takes the init segment and the cached GOP now. If the stream has
   * ended, the index is dropped at once. */
  index->sub = hearth_stream_subscribe (stream, on_index_wake, index);
  if (!index_take (index))
    return NULL;
  return index;
}

/* The sequence of the next part's first chunk: the part being filled, or
 * the one the next chunk starts (chunk sequences have no gaps). The index
 * has a segment. */
static guint64
next_part_sequence (HlsIndex *index)
{
  const Segment *seg = index->segments->pdata[index->segments->len - 1];
  guint start = part_start (seg, segment_n_parts (seg));

  if (start < seg->chunks->len)
    return hearth_chunk_get_sequence (seg->chunks->pdata[start]);
  return hearth_chunk_get_sequence (seg->chunks->pdata[seg->chunks->len - 1]) + 1;
}

/* Is the part starting with chunk @sequence whole? */
static gboolean
index_has_part (HlsIndex *index, guint64 sequence)
{
  for (guint i = 0; i < index->segments->len; i++) {
    const Segment *seg = index->segments->pdata[i];

    for (guint p = 0; p < segment_n_parts (seg); p++) {
      if (hearth_chunk_get_sequence (seg->chunks->pdata[part_start (seg, p)]) == sequence)
        return TRUE;
    }
  }
  return FALSE;
}

/* ---- the playlist ---- */

/* Ticks of the video track in seconds. */
static double
ticks_s (HlsIndex *index, guint64 ticks)
{
  return index->timescale > 0 ? (double) ticks / index->timescale : 0;
}

static char *
playlist (HlsIndex *index)
{
  GString *out = g_string_new ("#EXTM3U\n#EXT-X-VERSION:9\n");
  /* In whole milliseconds, as written: the hold-back is three of them. */
  guint64 part_target_ms = (guint64) (ticks_s (index, index->part_target) * 1000 + 0.5);
  guint64 target = 1;
  const Segment *first;

  /* Every EXTINF, rounded to the nearest second, is at most the target. */
  for (guint i = 0; i < index->segments->len; i++) {
    const Segment *seg = index->segments->pdata[i];

    if (seg->complete)
      target = MAX (target, (guint64) (ticks_s (index, seg->duration) + 0.5));
  }
  first = index->segments->pdata[0];
  g_string_append_printf (out, "#EXT-X-TARGETDURATION:%" G_GUINT64_FORMAT "\n", target);
  g_string_append_printf (out, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
                          "PART-HOLD-BACK=%.3f\n", 3 * part_target_ms / 1000.0);
  g_string_append_printf (out, "#EXT-X-PART-INF:PART-TARGET=%.3f\n",
                          part_target_ms / 1000.0);
  g_string_append_printf (out, "#EXT-X-MEDIA-SEQUENCE:%" G_GUINT64_FORMAT "\n",
                          first->msn);
  if (index->discontinuity > 0)
    g_string_append_printf (out, "#EXT-X-DISCONTINUITY-SEQUENCE:%" G_GUINT64_FORMAT "\n",
                            index->discontinuity);
  g_string_append_printf (out, "#EXT-X-MAP:URI=\"init-%" G_GUINT64_FORMAT ".mp4\"\n",
                          index->generation);

  for (guint i = 0; i < index->segments->len; i++) {
    const Segment *seg = index->segments->pdata[i];

    /* Parts of the last two segments: enough for a player at the live edge. */
    if (i + 2 >= index->segments->len) {
      for (guint p = 0; p < segment_n_parts (seg); p++) {
        HearthChunk *chunk = seg->chunks->pdata[part_start (seg, p)];

        g_string_append_printf (
            out, "#EXT-X-PART:DURATION=%.3f,URI=\"part-%" G_GUINT64_FORMAT "-%"
            G_GUINT64_FORMAT ".m4s\"%s\n",
            ticks_s (index, part_duration (seg, p)),
            index->generation, hearth_chunk_get_sequence (chunk),
            p == 0 ? ",INDEPENDENT=YES" : "");
      }
    }
    if (seg->complete)
      g_string_append_printf (
          out, "#EXTINF:%.3f,\nseg-%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT ".m4s\n",
          ticks_s (index, seg->duration), index->generation,
          hearth_chunk_get_sequence (seg->chunks->pdata[0]));
  }
  g_string_append_printf (out, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-%"
                          G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT ".m4s\"\n",
                          index->generation, next_part_sequence (index));
  return g_string_free (out, FALSE);
}

/* Has what a blocking reload asks for arrived? */
static gboolean
index_has (HlsIndex *index, guint64 msn, gint64 part)
{
  for (guint i = 0; i < index->segments->len; i++) {
    const Segment *seg = index->segments->pdata[i];

    if (seg->msn > msn)
      return TRUE;
    if (seg->msn == msn)
      return seg->complete || (part >= 0 && segment_n_parts (seg) > part);
  }
  return FALSE;
}

/* Answers with the playlist, if this index (camera, generation) is what the
 * request resolved to. */
static void
serve_playlist (HlsIndex *index, SoupServerMessage *msg, const char *camera_id,
                gint64 display_id, gint64 household_id)
{
  HearthCamera *camera = hearth_cameras_lookup (index->indexes->cameras, camera_id);
  guint64 generation = camera != NULL
      ? hearth_stream_get_generation (hearth_camera_get_stream (camera)) : 0;
  g_autofree char *text = NULL;

  if (!hearth_http_check_egress (index->indexes->access, msg, household_id,
                                 display_id, camera_id, generation,
                                 index->camera_id, index->generation,
                                 "playlist"))
    return;
  if (index->segments->len == 0) {
    hearth_http_reply_unavailable (msg, "no keyframe from this camera yet");
    return;
  }
  text = playlist (index);
  hearth_http_set_status (msg, SOUP_STATUS_OK);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Cache-Control", "no-store");
  soup_server_message_set_response (msg, "application/vnd.apple.mpegurl",
                                    SOUP_MEMORY_TAKE, g_steal_pointer (&text),
                                    strlen (text));
}

static gboolean
waiter_is_ready (HlsWaiter *waiter)
{
  if (waiter->part_name != NULL)
    return index_has_part (waiter->index, waiter->part_sequence);
  return index_has (waiter->index, waiter->msn, waiter->part);
}

static void
waiter_answer (HlsWaiter *waiter)
{
  HearthHeldRequest *held = &waiter->held;

  /* Held a while: the display may have gone, or lost the camera meanwhile
   * (then this has answered). */
  if (hearth_held_request_still_allowed (held)) {
    if (waiter->part_name == NULL)
      serve_playlist (waiter->index, held->msg, held->camera_id,
                      held->display_id, held->household_id);
    else if (waiter_is_ready (waiter))
      serve_media (waiter->index, held->msg, held->camera_id,
                   held->display_id, held->household_id, waiter->part_name);
    else
      hearth_http_reply_unavailable (held->msg, "the hinted part did not come "
                                     "in time; ask for the playlist again");
  }
  hearth_held_request_resume (held);
}

/* Answers the waiters whose part arrived, or all of them. */
static void
index_answer_waiters (HlsIndex *index, gboolean all)
{
  for (guint i = 0; i < index->waiters->len;) {
    HlsWaiter *waiter = index->waiters->pdata[i];

    if (all || hearth_held_request_is_gone (&waiter->held) ||
        waiter_is_ready (waiter)) {
      g_ptr_array_steal_index (index->waiters, i);
      waiter_answer (waiter);
      waiter_free (waiter);
    } else {
      i++;
    }
  }
}

static gboolean
on_waiter_timeout (gpointer user_data)
{
  HlsWaiter *waiter = user_data;
  HlsIndex *index = waiter->index;

  guint i;

  /* Held long enough: the playlist as it is (a hinted part: 503). */
  if (g_ptr_array_find (index->waiters, waiter, &i)) {
    g_ptr_array_steal_index (index->waiters, i);
    waiter_answer (waiter);
    waiter_free (waiter);
  }
  return G_SOURCE_REMOVE;
}

/* ---- segments and parts ---- */

/* Serves @chunks, each checked at the exit. */
static void
serve_chunks (HlsIndex *index, SoupServerMessage *msg, const char *camera_id,
              gint64 display_id, gint64 household_id, GPtrArray *chunks,
              const char *content_type)
{
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  gsize length = 0;

  for (guint i = 0; i < chunks->len; i++) {
    HearthChunk *chunk = chunks->pdata[i];

    /* Invariant 3: every chunk, before any byte of the answer goes. */
    if (!hearth_http_check_egress (index->indexes->access, msg, household_id,
                                   display_id, camera_id, index->generation,
                                   hearth_chunk_get_camera_id (chunk),
                                   hearth_chunk_get_generation (chunk),
                                   "HLS media"))
      return;
    length += g_bytes_get_size (hearth_chunk_get_bytes (chunk));
  }
  hearth_http_set_status (msg, SOUP_STATUS_OK);
  soup_message_headers_set_content_type (headers, content_type, NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  if (soup_server_message_get_method (msg) == SOUP_METHOD_HEAD) {
    soup_message_headers_set_content_length (headers, length);
    return;
  }
  for (guint i = 0; i < chunks->len; i++)
    soup_message_body_append_bytes (
        body, hearth_chunk_get_bytes (chunks->pdata[i]));
}

/* "PREFIX-G-S.m4s" or "PREFIX-G.mp4": the numbers, or FALSE. */
gboolean
hearth_hls_parse_name (const char *name, const char *prefix, const char *suffix,
                       guint64 *generation, guint64 *sequence)
{
  g_autofree char *middle = NULL;
  g_auto (GStrv) numbers = NULL;
  gsize plen = strlen (prefix), slen = strlen (suffix), len = strlen (name);
  guint n;

  if (len <= plen + slen || strncmp (name, prefix, plen) != 0 ||
      strcmp (name + len - slen, suffix) != 0)
    return FALSE;
  middle = g_strndup (name + plen, len - plen - slen);
  numbers = g_strsplit (middle, "-", 3);
  n = g_strv_length (numbers);
  if (n != (sequence != NULL ? 2u : 1u))
    return FALSE;
  if (!g_ascii_string_to_unsigned (numbers[0], 10, 0, G_MAXUINT64, generation, NULL))
    return FALSE;
  return sequence == NULL ||
         g_ascii_string_to_unsigned (numbers[1], 10, 0, G_MAXUINT64, sequence, NULL);
}

/* Chunks [start, end) of @chunks, new references. */
static GPtrArray *
chunks_range (GPtrArray *chunks, guint start, guint end)
{
  GPtrArray *range = g_ptr_array_new_full (end - start,
                                           (GDestroyNotify) hearth_chunk_unref);

  for (guint i = start; i < end; i++)
    g_ptr_array_add (range, hearth_chunk_ref (chunks->pdata[i]));
  return range;
}

GPtrArray *
hearth_hls_index_lookup (HearthHlsIndex *index, const char *name)
{
  guint64 generation, sequence;
  gboolean is_part;

  if (hearth_hls_parse_name (name, "init-", ".mp4", &generation, NULL)) {
    GPtrArray *init;

    if (generation != index->generation || index->init == NULL)
      return NULL;
    init = g_ptr_array_new_with_free_func ((GDestroyNotify) hearth_chunk_unref);
    g_ptr_array_add (init, hearth_chunk_ref (index->init));
    return init;
  }
  is_part = hearth_hls_parse_name (name, "part-", ".m4s", &generation, &sequence);
  if ((!is_part && !hearth_hls_parse_name (name, "seg-", ".m4s", &generation, &sequence)) ||
      generation != index->generation)
    return NULL;
  for (guint i = 0; i < index->segments->len; i++) {
    Segment *seg = index->segments->pdata[i];

    if (!is_part) {
      if (seg->complete &&
          hearth_chunk_get_sequence (seg->chunks->pdata[0]) == sequence)
        return chunks_range (seg->chunks, 0, seg->chunks->len);
      continue;
    }
    for (guint p = 0; p < segment_n_parts (seg); p++) {
      if (hearth_chunk_get_sequence (seg->chunks->pdata[part_start (seg, p)]) ==
          sequence)
        return chunks_range (seg->chunks, part_start (seg, p), part_end (seg, p));
    }
  }
  return NULL;
}

/* Segment or part by name, only from this index's generation. */
static void
serve_media (HlsIndex *index, SoupServerMessage *msg, const char *camera_id,
             gint64 display_id, gint64 household_id, const char *name)
{
  g_autoptr (GPtrArray) chunks = hearth_hls_index_lookup (index, name);

  if (chunks == NULL)
    hearth_http_reply_not_found (msg);
  else
    serve_chunks (index, msg, camera_id, display_id, household_id, chunks,
                  g_str_has_prefix (name, "init-") ? "video/mp4"
                                                   : "video/iso.segment");
}

/* ---- the route ---- */

/*
 * Holds @request until what it waits for exists (a playlist with part
 * @part of segment @msn, or with @part_name the part whose first chunk is
 * @part_sequence), at most @timeout_ms. The request passed the choke point.
 */
static void
hold_request (HlsIndex *index, HearthHttpRequest *request, const char *camera_id,
              guint64 msn, gint64 part, const char *part_name, guint64 part_sequence,
              guint timeout_ms)
{
  HlsWaiter *waiter;

  if (index->waiters->len >= MAX_WAITERS) {
    hearth_http_reply_unavailable (request->msg, "too many blocked HLS requests");
    return;
  }
  waiter = g_new0 (HlsWaiter, 1);
  waiter->index = index;
  waiter->msn = msn;
  waiter->part = part;
  waiter->part_name = g_strdup (part_name);
  waiter->part_sequence = part_sequence;
  waiter->timeout = g_timeout_source_new (timeout_ms);
  g_source_set_callback (waiter->timeout, on_waiter_timeout, waiter, NULL);
  g_source_attach (waiter->timeout, NULL);
  g_ptr_array_add (index->waiters, waiter);
  hearth_held_request_init (&waiter->held, request, camera_id);
}

static gboolean
query_number (GHashTable *query, const char *key, guint64 *value)
{
  const char *text = query != NULL ? g_hash_table_lookup (query, key) : NULL;

  return text != NULL &&
         g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT32, value, NULL);
}

/* A playlist request's _HLS_msn and _HLS_part: FALSE when they cannot name
 * a part (a part without an msn, or a number that is not one). */
gboolean
hearth_hls_parse_blocking (GHashTable *query, gboolean *blocking, guint64 *msn,
                           gboolean *has_part, guint64 *part)
{
  *blocking = query_number (query, "_HLS_msn", msn);
  *has_part = query != NULL && g_hash_table_contains (query, "_HLS_part");
  return !((*has_part && !*blocking) ||
           (*has_part && !query_number (query, "_HLS_part", part)));
}

static void
handle_hls (HearthHttpRequest *request, gpointer state)
{
  HearthHlsIndexes *indexes = state;
  const char *name = request->captures[1];
  g_autoptr (HearthCameraRow) row = NULL;
  HearthCamera *camera;
  HlsIndex *index;
  guint64 msn = 0, part = 0;
  gboolean blocking, has_part;
  gint64 wanted_part;

  row = hearth_http_request_camera (request, request->captures[0]);
  if (row == NULL)
    return;
  camera = hearth_cameras_lookup (indexes->cameras, row->id);
  index = camera != NULL ? get_index (indexes, camera) : NULL;
  if (index == NULL) {
    hearth_api_camera_reply_not_ready (request->msg, camera);
    return;
  }

  if (!g_str_equal (name, "index.m3u8")) {
    guint64 generation, sequence;

    /* The hinted part, not whole yet: held until it is. */
    if (hearth_hls_parse_name (name, "part-", ".m4s", &generation, &sequence) &&
        generation == index->generation && index->segments->len > 0 &&
        sequence == next_part_sequence (index) && !index_has_part (index, sequence)) {
      hold_request (index, request, row->id, 0, 0, name, sequence,
                    (guint) (PRELOAD_WAIT_PARTS * ticks_s (index, index->part_target) * 1000));
      return;
    }
    serve_media (index, request->msg, row->id, request->display->id,
                 request->display->household_id, name);
    return;
  }

  if (!hearth_hls_parse_blocking (request->query, &blocking, &msn, &has_part, &part) ||
      (blocking && msn > index->next_msn + 1)) {
    hearth_http_reply_error (request->msg, SOUP_STATUS_BAD_REQUEST, "bad_request",
                             "_HLS_msn and _HLS_part must name a coming part");
    return;
  }
  wanted_part = has_part ? (gint64) part : -1;
  if (!blocking && index->segments->len > 0) {
    /* A first playlist waits for the first whole part. */
    Segment *first = index->segments->pdata[0];

    msn = first->msn;
    wanted_part = 0;
  }
  if (index->segments->len > 0 && index_has (index, msn, wanted_part)) {
    serve_playlist (index, request->msg, row->id, request->display->id,
                    request->display->household_id);
    return;
  }
  /* Hold the request until the part exists (or the first one, if the
   * camera has not sent a keyframe yet), or BLOCK_MS. */
  hold_request (index, request, row->id,
                index->segments->len > 0 || blocking ? msn : 0,
                index->segments->len > 0 || blocking ? wanted_part : 0,
                NULL, 0, BLOCK_MS);
}

void
hearth_api_hls_register (HearthHttpRoutes *routes, HearthAccess *access,
                         HearthCameras *cameras)
{
  hearth_http_routes_add (routes, "hls", HEARTH_API_HLS_PATTERN,
                          HEARTH_HTTP_READ, handle_hls,
                          hearth_hls_indexes_new (access, cameras),
                          (GDestroyNotify) hearth_hls_indexes_free);
}

/* ---- the index, as tests drive it ---- */

HearthHlsIndex *
hearth_hls_indexes_open (HearthHlsIndexes *self, const char *camera_id,
                         guint64 generation, double fps)
{
  HlsIndex *index = g_hash_table_lookup (self->by_camera, camera_id);

  if (index != NULL && index->generation == generation)
    return index;
  return index_new (self, camera_id, generation, fps);
}

HearthHlsIndex *
hearth_hls_indexes_lookup (HearthHlsIndexes *self, const char *camera_id)
{
  return g_hash_table_lookup (self->by_camera, camera_id);
}

void
hearth_hls_index_feed (HearthHlsIndex *index, HearthChunk *chunk)
{
  on_index_chunk (chunk, index);
}

void
hearth_hls_index_end (HearthHlsIndex *index)
{
  on_index_end (index);
}

char *
hearth_hls_index_playlist (HearthHlsIndex *index)
{
  return index->segments->len > 0 ? playlist (index) : NULL;
}

gboolean
hearth_hls_index_has (HearthHlsIndex *index, guint64 msn, gint64 part)
{
  return index_has (index, msn, part);
}
