/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * /v1/cameras/{id}/live.mp4: the live writer. Every live response goes
 * through it: it shares the camera's refcounted chunks (no copy per
 * display), checks each chunk's camera UUID and generation against the
 * subscription before it is written (invariant 3), bounds what a slow
 * display can queue, and can be cut at once when a recheck fails
 * (invariant 4). Registered by HearthHttpServer; the writers are the
 * route's state, and re-check their streams on HearthCameras'
 * "access-changed". Main context only.
 */
#define G_LOG_DOMAIN "hearth-live"

#include "api-live.h"
#include "api-cameras.h"
#include "error.h"
#include "listener.h"

/* A display that cannot keep up for this long is disconnected. */
#define SLOW_DISPLAY_LIMIT_US (10 * G_USEC_PER_SEC)

struct _HearthLiveWriters {
  HearthAccess *access;
  HearthCameras *cameras;     /* looked up by id; we follow "access-changed" */
  const HearthConfig *config; /* immutable, outlives us */
  GList *streams;             /* of LiveStream */
};

typedef struct {
  HearthLiveWriters *writers; /* unowned: they free us before they die */
  SoupServerMessage *msg;
  GSocket *socket;
  HearthSubscription *subscription;
  char *camera_id;
  guint64 generation;
  char *fingerprint;
  gint64 display_id;
  gint64 household_id;
  guint64 queued;             /* bytes appended to the response */
  guint64 written;            /* bytes libsoup has written */
  gboolean skipping;          /* dropping chunks until the next keyframe */
  gint64 skipping_since;
  guint64 skipped;
  gboolean done;
} LiveStream;

static void live_stream_cut (LiveStream *live);

static void
live_stream_free (LiveStream *live)
{
  g_clear_pointer (&live->subscription, hearth_subscription_free);
  g_clear_object (&live->socket);
  g_clear_object (&live->msg);
  g_free (live->camera_id);
  g_free (live->fingerprint);
  g_free (live);
}

/* Ends the response cleanly (camera reconnected or removed). */
static void
live_stream_end (LiveStream *live)
{
  if (live->done)
    return;
  live->done = TRUE;
  g_clear_pointer (&live->subscription, hearth_subscription_free);
  soup_message_body_complete (soup_server_message_get_response_body (live->msg));
  soup_server_message_unpause (live->msg);
}

static void
on_live_end (gpointer user_data)
{
  LiveStream *live = user_data;

  g_debug ("Stream of camera %s ended for display %" G_GINT64_FORMAT,
           live->camera_id, live->display_id);
  live_stream_end (live);
}

static void
on_live_chunk (HearthChunk *chunk, gpointer user_data)
{
  LiveStream *live = user_data;
  GBytes *bytes = hearth_chunk_get_bytes (chunk);
  guint64 pending;

  if (live->done)
    return;

  /* Invariant 3: checked again at the exit. */
  if (!hearth_http_check_egress (live->writers->access, live->msg,
                                 live->household_id, live->display_id,
                                 live->camera_id, live->generation,
                                 hearth_chunk_get_camera_id (chunk),
                                 hearth_chunk_get_generation (chunk),
                                 "stream")) {
    live_stream_end (live);
    return;
  }

  /* A slow display queues at most display_queue_bytes; past that it skips
   * to the next keyframe, and one that stays behind is disconnected. */
  pending = live->queued - live->written;
  if (!hearth_chunk_is_init (chunk)) {
    if (live->skipping) {
      if (!hearth_chunk_is_keyframe (chunk) ||
          pending > live->writers->config->display_queue_bytes / 2) {
        live->skipped++;
        hearth_subscription_note_dropped (live->subscription, 1);
        if (g_get_monotonic_time () - live->skipping_since > SLOW_DISPLAY_LIMIT_US) {
          g_message ("Display %" G_GINT64_FORMAT " cannot keep up with camera "
                     "%s; disconnecting it", live->display_id, live->camera_id);
          live_stream_cut (live);
        }
        return;
      }
      live->skipping = FALSE;
    } else if (pending + g_bytes_get_size (bytes) >
               live->writers->config->display_queue_bytes) {
      live->skipping = TRUE;
      live->skipping_since = g_get_monotonic_time ();
      live->skipped++;
      hearth_subscription_note_dropped (live->subscription, 1);
      return;
    }
  }

  live->queued += g_bytes_get_size (bytes);
  soup_message_body_append_bytes (soup_server_message_get_response_body (live->msg),
                                  bytes);
  soup_server_message_unpause (live->msg);
}

static void
on_live_wrote_body_data (SoupServerMessage *msg, guint size, gpointer user_data)
{
  LiveStream *live = user_data;

  live->written += size;
}

static void
on_live_finished (SoupServerMessage *msg, gpointer user_data)
{
  LiveStream *live = user_data;
  HearthLiveWriters *writers = live->writers;

  g_signal_handlers_disconnect_by_data (msg, live);
  writers->streams = g_list_remove (writers->streams, live);
  live_stream_free (live);
}

static void
live_stream_cut (LiveStream *live)
{
  hearth_connection_abort (live->socket);
  live_stream_end (live);
}

static void
live_start (HearthLiveWriters *self, HearthHttpRequest *request,
            const HearthCameraRow *row)
{
  SoupMessageHeaders *headers;
  HearthStream *stream;
  LiveStream *live;
  guint per_display = 0;

  /* Only a stream that can start at once (init segment and keyframe):
   * an empty 200 would look like a camera that streams nothing. */
  stream = hearth_api_camera_ready_stream (
      request->msg, hearth_cameras_lookup (self->cameras, row->id));
  if (stream == NULL)
    return;
  for (GList *l = self->streams; l != NULL; l = l->next)
    if (((LiveStream *) l->data)->display_id == request->display->id)
      per_display++;
  if (per_display >= self->config->max_streams_per_display) {
    hearth_http_reply_error (request->msg, 429, "limit",
                             "too many streams open for this display");
    return;
  }

  live = g_new0 (LiveStream, 1);
  live->writers = self;
  live->msg = g_object_ref (request->msg);
  live->socket = soup_server_message_get_socket (request->msg);
  if (live->socket)
    g_object_ref (live->socket);
  live->camera_id = g_strdup (row->id);
  live->generation = hearth_stream_get_generation (stream);
  live->fingerprint = g_strdup (request->fingerprint);
  live->display_id = request->display->id;
  live->household_id = request->display->household_id;
  self->streams = g_list_prepend (self->streams, live);

  hearth_http_set_status (request->msg, SOUP_STATUS_OK);
  headers = soup_server_message_get_response_headers (request->msg);
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_headers_set_content_type (headers, "video/mp4", NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  /* A stream ends with its connection, so a cut stream cannot be followed
   * by anything on the same connection. */
  soup_message_headers_replace (headers, "Connection", "close");
  soup_message_body_set_accumulate (
      soup_server_message_get_response_body (request->msg), FALSE);

  g_signal_connect (request->msg, "wrote-body-data",
                    G_CALLBACK (on_live_wrote_body_data), live);
  g_signal_connect (request->msg, "finished", G_CALLBACK (on_live_finished), live);

  if (soup_server_message_get_method (request->msg) == SOUP_METHOD_HEAD) {
    live_stream_end (live);
    return;
  }
  /* Delivers the init segment and the cached GOP synchronously. */
  live->subscription = hearth_stream_subscribe (stream, on_live_chunk,
                                                on_live_end, live);
  if (!live->done && live->queued == 0)
    soup_server_message_pause (request->msg);
}

static void
handle_live (HearthHttpRequest *request, gpointer state)
{
  g_autoptr (HearthCameraRow) row = NULL;

  row = hearth_http_request_camera (request, request->captures[0]);
  if (row == NULL)
    return;
  live_start (state, request, row);
}

/* Cuts each stream whose camera its display may no longer see. */
static void
live_writers_recheck (HearthLiveWriters *self)
{
  HearthAccess *access = self->access;
  g_autoptr (GList) snapshot = g_list_copy (self->streams);

  /* A live stream whose camera is no longer its display's is cut, even one
   * that has ended but still has bytes queued. */
  for (GList *l = snapshot; l != NULL; l = l->next) {
    LiveStream *live = l->data;
    g_autoptr (HearthDisplayRow) display = NULL;
    g_autoptr (HearthCameraRow) camera = NULL;
    g_autoptr (GError) error = NULL;

    if (live->socket == NULL || g_socket_is_closed (live->socket)) {
      live_stream_end (live);
      continue;
    }
    display = hearth_access_resolve_display (access, live->fingerprint,
                                             &error);
    if (display != NULL)
      camera = hearth_access_camera (access, display, live->camera_id,
                                     &error);
    if (camera == NULL) {
      g_message ("Cutting the stream of camera %s to display %" G_GINT64_FORMAT
                 ": %s", live->camera_id, live->display_id, error->message);
      live_stream_cut (live);
    }
  }
}

guint
hearth_live_writers_get_n (HearthLiveWriters *self, const char *camera_id)
{
  guint n = 0;

  if (camera_id == NULL)
    return g_list_length (self->streams);
  for (GList *l = self->streams; l != NULL; l = l->next) {
    LiveStream *live = l->data;

    if (!live->done && g_str_equal (live->camera_id, camera_id))
      n++;
  }
  return n;
}

static HearthLiveWriters *
live_writers_new (HearthAccess *access, HearthCameras *cameras,
                  const HearthConfig *config)
{
  HearthLiveWriters *self = g_new0 (HearthLiveWriters, 1);

  self->access = g_object_ref (access);
  self->cameras = g_object_ref (cameras);
  self->config = config;
  g_signal_connect_swapped (cameras, "access-changed",
                            G_CALLBACK (live_writers_recheck), self);
  return self;
}

/* Drops every response at once (the server is closing). */
static void
live_writers_free (HearthLiveWriters *self)
{
  g_signal_handlers_disconnect_by_data (self->cameras, self);
  g_object_unref (self->cameras);
  g_object_unref (self->access);
  while (self->streams != NULL) {
    LiveStream *live = self->streams->data;

    g_signal_handlers_disconnect_by_data (live->msg, live);
    self->streams = g_list_delete_link (self->streams, self->streams);
    live_stream_free (live);
  }
  g_free (self);
}

void
hearth_api_live_register (HearthHttpRoutes *routes, HearthAccess *access,
                          HearthCameras *cameras, const HearthConfig *config)
{
  hearth_http_routes_add (routes, "live", HEARTH_API_LIVE_PATTERN,
                          HEARTH_HTTP_READ, handle_live,
                          live_writers_new (access, cameras, config),
                          (GDestroyNotify) live_writers_free);
}
