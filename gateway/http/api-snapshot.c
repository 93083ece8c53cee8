/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GET /v1/cameras/{id}/snapshot.jpg: the camera's latest keyframe as a JPEG.
 *
 * Registered by HearthHttpServer with the HearthAccess and HearthCameras it
 * serves; the route owns its cache, and forgets a camera's pictures on
 * HearthCameras' "camera-removed" (nothing cached for a camera outlives its
 * ingest). The display is resolved by the server (the choke point) and the
 * camera by HearthAccess, as for every route. The latest keyframe chunk of the
 * camera's stream is decoded on demand (snapshot.c, on a worker thread) and
 * the JPEG is cached under the chunk's own identity — (camera UUID,
 * generation, keyframe sequence) — and under nothing else, so a picture can
 * only ever be found again by the same camera, the same run of it and the
 * same keyframe. Requests for a keyframe being decoded wait for that one
 * decode. The cache holds one picture per camera: a newer keyframe replaces
 * it.
 *
 * Before a JPEG leaves, its camera and generation are compared with what the
 * request resolved to (invariant 3), and with the camera's current generation
 * (invariant 6): a picture of an older run is never served once a newer run
 * has begun. A request that waited for a decode is checked through
 * HearthAccess again before it is answered.
 */
#define G_LOG_DOMAIN "hearth-api-snapshot"

#include "api-snapshot.h"
#include "api-cameras.h"
#include "error.h"
#include "snapshot.h"

/* Requests that may wait on one decode; more are told to come back. */
#define MAX_WAITERS 64

typedef struct _SnapshotEntry SnapshotEntry;

/* The route's state. */
typedef struct {
  HearthAccess *access;
  HearthCameras *cameras;     /* looked up by id; we follow "camera-removed" */
  GHashTable *entries;        /* set of SnapshotEntry (by identity) */
  GCancellable *cancellable;  /* decodes in flight */
} HearthSnapshotCache;

struct _SnapshotEntry {
  grefcount ref;              /* the cache's, and a decode's in flight */
  HearthSnapshotCache *cache; /* (nullable) NULL once out of the cache */
  char *camera_id;            /* the keyframe chunk's own */
  guint64 generation;
  guint64 sequence;
  GBytes *jpeg;               /* (nullable) NULL while decoding */
  GPtrArray *waiters;         /* of Waiter */
};

typedef struct {
  HearthHeldRequest held;
  HearthSnapshotCache *cache; /* unowned: answers us before it is freed */
  guint64 generation;         /* the camera's, when the request came */
} Waiter;

/* ---- entries ---- */

static guint
entry_hash (gconstpointer p)
{
  const SnapshotEntry *e = p;

  return g_str_hash (e->camera_id) ^ g_int64_hash (&e->generation) ^
         (g_int64_hash (&e->sequence) * 31);
}

static gboolean
entry_equal (gconstpointer a, gconstpointer b)
{
  const SnapshotEntry *x = a, *y = b;

  return g_str_equal (x->camera_id, y->camera_id) &&
         x->generation == y->generation && x->sequence == y->sequence;
}

static void
waiter_free (Waiter *waiter)
{
  hearth_held_request_clear (&waiter->held);
  g_free (waiter);
}

static SnapshotEntry *
entry_new (const char *camera_id, guint64 generation, guint64 sequence)
{
  SnapshotEntry *entry = g_new0 (SnapshotEntry, 1);

  g_ref_count_init (&entry->ref);
  entry->camera_id = g_strdup (camera_id);
  entry->generation = generation;
  entry->sequence = sequence;
  entry->waiters = g_ptr_array_new_with_free_func ((GDestroyNotify) waiter_free);
  return entry;
}

static SnapshotEntry *
entry_ref (SnapshotEntry *entry)
{
  g_ref_count_inc (&entry->ref);
  return entry;
}

static void
entry_unref (SnapshotEntry *entry)
{
  if (!g_ref_count_dec (&entry->ref))
    return;
  g_free (entry->camera_id);
  g_clear_pointer (&entry->jpeg, g_bytes_unref);
  g_ptr_array_unref (entry->waiters);
  g_free (entry);
}

static void
entry_detach (gpointer p)
{
  SnapshotEntry *entry = p;

  entry->cache = NULL;
  entry_unref (entry);
}

static void on_camera_removed (HearthCameras *cameras, const char *id,
                               gpointer user_data);

static HearthSnapshotCache *
snapshot_cache_new (HearthAccess *access, HearthCameras *cameras)
{
  HearthSnapshotCache *cache = g_new0 (HearthSnapshotCache, 1);

  cache->access = g_object_ref (access);
  cache->cameras = g_object_ref (cameras);
  g_signal_connect (cameras, "camera-removed", G_CALLBACK (on_camera_removed),
                    cache);
  cache->entries = g_hash_table_new_full (entry_hash, entry_equal, NULL,
                                          entry_detach);
  cache->cancellable = g_cancellable_new ();
  return cache;
}

static void
snapshot_cache_free (HearthSnapshotCache *cache)
{
  g_signal_handlers_disconnect_by_data (cache->cameras, cache);
  g_cancellable_cancel (cache->cancellable);
  g_hash_table_unref (cache->entries);
  g_object_unref (cache->cancellable);
  g_object_unref (cache->cameras);
  g_object_unref (cache->access);
  g_free (cache);
}

/* Drops the pictures of @camera_id other than @keep (finished ones only:
 * a decode in flight still has requests to answer). */
static void
evict_others (HearthSnapshotCache *cache, const char *camera_id,
              SnapshotEntry *keep)
{
  GHashTableIter iter;
  gpointer p;

  g_hash_table_iter_init (&iter, cache->entries);
  while (g_hash_table_iter_next (&iter, &p, NULL)) {
    SnapshotEntry *entry = p;

    if (entry != keep && entry->jpeg != NULL &&
        g_str_equal (entry->camera_id, camera_id))
      g_hash_table_iter_remove (&iter);
  }
}

/* A removed or restarted camera: its finished pictures go. */
static void
on_camera_removed (HearthCameras *cameras, const char *id, gpointer user_data)
{
  HearthSnapshotCache *cache = user_data;

  evict_others (cache, id, NULL);
}

/* ---- answering ---- */

/* Serves @entry's JPEG to a request for @camera_id in @generation. */
static void
serve (HearthSnapshotCache *cache, SoupServerMessage *msg, const char *camera_id,
       guint64 generation, gint64 display_id, gint64 household_id,
       SnapshotEntry *entry)
{
  HearthCamera *camera = hearth_cameras_lookup (cache->cameras, camera_id);
  SoupMessageHeaders *headers;
  g_autofree char *generation_text = NULL;
  g_autofree char *sequence_text = NULL;

  /* Invariant 3: the picture is of the camera and run asked for. */
  if (!hearth_http_check_egress (cache->access, msg, household_id, display_id,
                                 camera_id, generation, entry->camera_id,
                                 entry->generation, "snapshot"))
    return;
  /* Invariant 6: never a picture of an older run once a newer one began. */
  if (camera == NULL ||
      hearth_stream_get_generation (hearth_camera_get_stream (camera)) !=
          entry->generation) {
    hearth_http_reply_unavailable (msg, "the camera restarted; try again");
    return;
  }

  generation_text = g_strdup_printf ("%" G_GUINT64_FORMAT, entry->generation);
  sequence_text = g_strdup_printf ("%" G_GUINT64_FORMAT, entry->sequence);
  hearth_http_set_status (msg, SOUP_STATUS_OK);
  headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_set_content_type (headers, "image/jpeg", NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_message_headers_replace (headers, "X-Hearth-Generation", generation_text);
  soup_message_headers_replace (headers, "X-Hearth-Keyframe", sequence_text);
  if (soup_server_message_get_method (msg) == SOUP_METHOD_HEAD)
    soup_message_headers_set_content_length (headers,
                                             g_bytes_get_size (entry->jpeg));
  else
    soup_message_body_append_bytes (soup_server_message_get_response_body (msg),
                                    entry->jpeg);
}

/* A request that waited: ask the choke point again, then serve or refuse. */
static void
answer_waiter (Waiter *waiter, SnapshotEntry *entry, const GError *decode_error)
{
  HearthHeldRequest *held = &waiter->held;

  /* Gone while we decoded: nobody to answer. Refused: answered. */
  if (hearth_held_request_still_allowed (held)) {
    if (decode_error != NULL)
      hearth_http_reply_unavailable (held->msg, "the picture could not be decoded");
    else
      serve (waiter->cache, held->msg, held->camera_id, waiter->generation,
             held->display_id, held->household_id, entry);
  }
  hearth_held_request_resume (held);
}

static void
on_decoded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SnapshotEntry *entry = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) jpeg = hearth_snapshot_decode_finish (result, &error);
  g_autoptr (GPtrArray) waiters = NULL;

  if (entry->cache == NULL) {
    /* The cache is gone (server closing): its messages went with it. */
    entry_unref (entry);
    return;
  }

  waiters = g_steal_pointer (&entry->waiters);
  entry->waiters = g_ptr_array_new_with_free_func ((GDestroyNotify) waiter_free);
  if (jpeg == NULL) {
    g_message ("Snapshot of camera %s (generation %" G_GUINT64_FORMAT
               ", keyframe %" G_GUINT64_FORMAT ") failed: %s",
               entry->camera_id, entry->generation, entry->sequence,
               error->message);
  } else {
    entry->jpeg = g_steal_pointer (&jpeg);
  }

  /* Keep a reference: answering may not free the entry under us. */
  entry_ref (entry);
  if (entry->jpeg == NULL)
    g_hash_table_remove (entry->cache->entries, entry);
  else
    evict_others (entry->cache, entry->camera_id, entry);
  for (guint i = 0; i < waiters->len; i++)
    answer_waiter (waiters->pdata[i], entry, error);
  entry_unref (entry);

  entry_unref (entry); /* the decode's */
}

static void
handle_snapshot (HearthHttpRequest *request, gpointer state)
{
  HearthSnapshotCache *cache = state;
  g_autoptr (HearthCameraRow) row = NULL;
  g_autoptr (HearthChunk) init = NULL;
  g_autoptr (HearthChunk) keyframe = NULL;
  SnapshotEntry *entry;
  SnapshotEntry *key;
  HearthStream *stream;
  Waiter *waiter;

  row = hearth_http_request_camera (request, request->captures[0]);
  if (row == NULL)
    return;
  stream = hearth_api_camera_ready_stream (
      request->msg, hearth_cameras_lookup (cache->cameras, row->id));
  if (stream == NULL)
    return;
  if (!hearth_stream_ref_latest_keyframe (stream, &init, &keyframe)) {
    hearth_http_reply_unavailable (request->msg, "no picture from this camera yet");
    return;
  }

  /* The chunk's own identity is the key, never the request's. */
  key = entry_new (hearth_chunk_get_camera_id (keyframe),
                   hearth_chunk_get_generation (keyframe),
                   hearth_chunk_get_sequence (keyframe));
  entry = g_hash_table_lookup (cache->entries, key);
  entry_unref (key);

  if (entry != NULL && entry->jpeg != NULL) {
    serve (cache, request->msg, row->id, hearth_stream_get_generation (stream),
           request->display->id, request->display->household_id, entry);
    return;
  }
  if (entry != NULL && entry->waiters->len >= MAX_WAITERS) {
    hearth_http_reply_unavailable (request->msg, "too many requests for this picture");
    return;
  }
  if (entry == NULL) {
    entry = entry_new (hearth_chunk_get_camera_id (keyframe),
                       hearth_chunk_get_generation (keyframe),
                       hearth_chunk_get_sequence (keyframe));
    entry->cache = cache;
    g_hash_table_add (cache->entries, entry);
    hearth_snapshot_decode_async (hearth_chunk_get_bytes (init),
                                  hearth_chunk_get_bytes (keyframe),
                                  cache->cancellable, on_decoded,
                                  entry_ref (entry));
  }

  waiter = g_new0 (Waiter, 1);
  waiter->cache = cache;
  waiter->generation = hearth_stream_get_generation (stream);
  g_ptr_array_add (entry->waiters, waiter);
  hearth_held_request_init (&waiter->held, request, row->id);
}

void
hearth_api_snapshot_register (HearthHttpRoutes *routes, HearthAccess *access,
                              HearthCameras *cameras)
{
  hearth_http_routes_add (routes, "snapshot", HEARTH_API_SNAPSHOT_PATTERN,
                          HEARTH_HTTP_READ, handle_snapshot,
                          snapshot_cache_new (access, cameras),
                          (GDestroyNotify) snapshot_cache_free);
}
