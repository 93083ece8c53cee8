/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * /v1/cameras/{id}/live.mp4: the live writer. Every live response goes
 * through it: it shares the camera's refcounted chunks (no copy per
 * display), checks each chunk's camera UUID, stream (main or sub: the
 * request's ?stream=) and generation against the subscription before it is
 * written (invariant 3), bounds what a slow
 * display can fall behind, and can be cut at once when a recheck fails
 * (invariant 4). Registered by HearthHttpServer; the writers are the
 * route's state, and re-check their streams on HearthCameras'
 * "access-changed". Main context only.
 *
 * As cheap as a file server: libsoup writes the status line and headers
 * (chunked transfer encoding, Connection: close); then the writer takes the
 * connection from libsoup (in wrote-headers) and owns it. It owns a cursor
 * into the camera's stream (HearthSubscription) and, whenever it is woken
 * or its socket is writable again, takes what is pending and writes it in
 * as few TLS writes as it can: everything pending, framed as HTTP chunks,
 * in one buffer of up to BATCH_MAX bytes per write. Caught up, that is
 * each frame at once; behind, it coalesces. No per-display queue: a display
 * behind by more than display-queue-bytes has its cursor moved to the next
 * keyframe (the stream counts what it skips), and one that stays behind for
 * SLOW_DISPLAY_LIMIT_US is cut.
 *
 * The taken connection stays the GSocket http-server.c and the gate track
 * (its caps, its recheck cut, hearth_connection_abort): this file holds a
 * reference to it until the stream is over.
 */
#define G_LOG_DOMAIN "hearth-live"

#include "api-live.h"
#include "api-cameras.h"
#include "error.h"
#include "listener.h"

#include <string.h>

/* A display that cannot keep up for this long is disconnected. */
#define SLOW_DISPLAY_LIMIT_US (10 * G_USEC_PER_SEC)
/* The most one write takes: a few TLS records. */
#define BATCH_MAX (64 * 1024)
/* Room for one chunk's framing ("%zx\r\n" before, "\r\n" after). */
#define FRAMING_MAX 24
/* How often displays whose sockets are full are looked at. */
#define SWEEP_INTERVAL_MS 500

struct _HearthLiveWriters {
  HearthAccess *access;
  HearthCameras *cameras;     /* looked up by id; we follow "access-changed" */
  const HearthConfig *config; /* immutable, outlives us */
  GList *streams;             /* of LiveStream */
  guint sweep_source;
};

typedef struct {
  HearthLiveWriters *writers; /* unowned: they free us before they die */
  SoupServerMessage *msg;     /* (nullable) until the connection is taken */
  GIOStream *io;              /* (nullable) the connection, once taken */
  GPollableOutputStream *out; /* (nullable) its output, once taken */
  GSource *out_source;        /* (nullable) waiting for the socket */
  GSocket *socket;
  HearthSubscription *subscription;
  char *camera_id;
  HearthStreamKind kind;      /* ?stream=: the camera's main or sub stream */
  guint64 generation;
  char *fingerprint;
  gint64 display_id;
  gint64 household_id;
  /* Framed bytes taken from the stream and not written yet. */
  guint8 *buf;
  gsize buf_len;
  gsize buf_off;
  HearthChunk *part;          /* (nullable) a chunk bigger than one batch */
  gsize part_off;
  gint64 behind_since;        /* 0: has not had to skip lately */
  gint64 last_skip;
  gboolean last_chunk;        /* the terminating chunk is in buf */
  gboolean done;              /* no more bytes will be taken */
} LiveStream;

static void live_stream_pump (LiveStream *live);

static void
live_stream_release (LiveStream *live)
{
  g_clear_pointer (&live->subscription, hearth_subscription_free);
  if (live->out_source != NULL) {
    g_source_destroy (live->out_source);
    g_clear_pointer (&live->out_source, g_source_unref);
  }
  g_clear_pointer (&live->part, hearth_chunk_unref);
  g_clear_pointer (&live->buf, g_free);
  live->buf_len = live->buf_off = 0;
}

static void
live_stream_free (LiveStream *live)
{
  live_stream_release (live);
  if (live->msg != NULL)
    g_signal_handlers_disconnect_by_data (live->msg, live);
  g_clear_object (&live->msg);
  live->out = NULL;
  g_clear_object (&live->io);
  g_clear_object (&live->socket);
  g_free (live->camera_id);
  g_free (live->fingerprint);
  g_free (live);
}

/* The stream is over: forget it (and the connection, if it is ours). */
static void
live_stream_remove (LiveStream *live)
{
  HearthLiveWriters *writers = live->writers;

  writers->streams = g_list_remove (writers->streams, live);
  live_stream_free (live);
}

/* Closes a taken connection after its last byte: TLS close_notify (in a
 * thread of glib-networking's), then the socket. */
static void
on_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
}

static void
live_stream_close (LiveStream *live)
{
  if (live->io != NULL && !g_io_stream_is_closed (live->io))
    g_io_stream_close_async (live->io, G_PRIORITY_DEFAULT, NULL, on_closed,
                             NULL);
  live_stream_remove (live);
}

/* Cut at once (recheck, slow display, a broken connection). */
static void
live_stream_cut (LiveStream *live)
{
  live->done = TRUE;
  hearth_connection_abort (live->socket);
  if (live->msg != NULL)
    /* Not taken yet: libsoup still owns it and finishes the message. */
    live_stream_release (live);
  else
    live_stream_remove (live);
}

/* Ends the response cleanly (camera reconnected or removed): the
 * terminating chunk goes after what is taken already. */
static void
live_stream_end (LiveStream *live)
{
  if (live->done)
    return;
  live->done = TRUE;
  g_clear_pointer (&live->subscription, hearth_subscription_free);
  if (live->msg != NULL) {
    /* Not taken yet (HEAD, or before the headers went). */
    soup_message_body_complete (soup_server_message_get_response_body (live->msg));
    soup_server_message_unpause (live->msg);
    return;
  }
  live_stream_pump (live);
}

static gboolean
on_writable (GObject *stream, gpointer user_data)
{
  LiveStream *live = user_data;

  g_clear_pointer (&live->out_source, g_source_unref);
  live_stream_pump (live);
  return G_SOURCE_REMOVE;
}

/* Appends the framing and bytes of @chunk from @off, as much as fits. */
static void
append_part (LiveStream *live, HearthChunk *chunk, gsize off)
{
  GBytes *bytes = hearth_chunk_get_bytes (chunk);
  gsize size = g_bytes_get_size (bytes);
  gsize room = BATCH_MAX - MIN (live->buf_len, BATCH_MAX);
  gsize n = MIN (room, size - off);

  if (off == 0)
    live->buf_len += g_snprintf ((char *) live->buf + live->buf_len,
                                 FRAMING_MAX, "%" G_GSIZE_MODIFIER "x\r\n",
                                 size);
  memcpy (live->buf + live->buf_len,
          (const guint8 *) g_bytes_get_data (bytes, NULL) + off, n);
  live->buf_len += n;
  off += n;
  if (off < size) {
    if (live->part != chunk) {
      g_clear_pointer (&live->part, hearth_chunk_unref);
      live->part = hearth_chunk_ref (chunk);
    }
    live->part_off = off;
    return;
  }
  g_clear_pointer (&live->part, hearth_chunk_unref);
  memcpy (live->buf + live->buf_len, "\r\n", 2);
  live->buf_len += 2;
}

/*
 * A slow display: more than display-queue-bytes behind moves its cursor to
 * the next keyframe; one that has had to skip again and again (never half
 * SLOW_DISPLAY_LIMIT_US without) for SLOW_DISPLAY_LIMIT_US is cut. Returns
 * FALSE if it was cut.
 */
static gboolean
check_behind (LiveStream *live)
{
  gint64 now;

  if (live->subscription == NULL)
    return TRUE;
  if (hearth_subscription_get_pending_bytes (live->subscription) <=
      live->writers->config->display_queue_bytes)
    return TRUE;
  now = g_get_monotonic_time ();
  hearth_subscription_skip_to_keyframe (live->subscription);
  if (live->behind_since == 0 ||
      now - live->last_skip > SLOW_DISPLAY_LIMIT_US / 2)
    live->behind_since = now;
  live->last_skip = now;
  if (now - live->behind_since > SLOW_DISPLAY_LIMIT_US) {
    g_message ("Display %" G_GINT64_FORMAT " cannot keep up with camera "
               "%s; disconnecting it", live->display_id, live->camera_id);
    live_stream_cut (live);
    return FALSE;
  }
  return TRUE;
}

/*
 * Takes what is pending into one batch of framed bytes. Returns FALSE if
 * the stream was cut (egress check failed).
 */
static gboolean
fill (LiveStream *live)
{
  HearthChunk *chunk;

  live->buf_len = live->buf_off = 0;
  if (live->buf == NULL)
    live->buf = g_malloc (BATCH_MAX + 2 * FRAMING_MAX);

  if (live->part != NULL)
    append_part (live, live->part, live->part_off);
  while (live->buf_len < BATCH_MAX && live->subscription != NULL &&
         (chunk = hearth_subscription_next (live->subscription)) != NULL) {
    /* Invariant 3: checked again at the exit, before any of its bytes. */
    if (!hearth_http_check_egress (live->writers->access, NULL,
                                          live->household_id, live->display_id,
                                          live->camera_id, live->kind,
                                          live->generation,
                                          hearth_chunk_get_camera_id (chunk),
                                          hearth_chunk_get_kind (chunk),
                                          hearth_chunk_get_generation (chunk),
                                          "stream")) {
      hearth_chunk_unref (chunk);
      live_stream_cut (live);
      return FALSE;
    }
    append_part (live, chunk, 0);
    hearth_chunk_unref (chunk);
  }
  if (live->part == NULL && live->buf_len < BATCH_MAX) {
    /* Took everything there was. */
    if (live->subscription != NULL &&
        hearth_subscription_is_finished (live->subscription)) {
      g_debug ("Stream of camera %s ended for display %" G_GINT64_FORMAT,
               live->camera_id, live->display_id);
      live->done = TRUE;
      g_clear_pointer (&live->subscription, hearth_subscription_free);
    }
    if (live->done && !live->last_chunk) {
      memcpy (live->buf + live->buf_len, "0\r\n\r\n", 5);
      live->buf_len += 5;
      live->last_chunk = TRUE;
    }
  }
  return TRUE;
}

/* Writes what is taken and takes more, until the socket is full or
 * nothing is pending. */
static void
live_stream_pump (LiveStream *live)
{
  GPollableOutputStream *out = live->out;

  if (out == NULL || live->out_source != NULL)
    return;

  for (;;) {
    g_autoptr (GError) error = NULL;
    gssize n;

    if (live->buf_off == live->buf_len) {
      if (live->last_chunk) {
        live_stream_close (live);
        return;
      }
      if (!check_behind (live))
        return;
      if (!fill (live))
        return;
      if (live->buf_len == 0) {
        /* Caught up: woken when more comes. */
        g_clear_pointer (&live->buf, g_free);
        return;
      }
    }
    n = g_pollable_output_stream_write_nonblocking (out,
                                                    live->buf + live->buf_off,
                                                    live->buf_len - live->buf_off,
                                                    NULL, &error);
    if (n < 0) {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        live->out_source = g_pollable_output_stream_create_source (out, NULL);
        g_source_set_callback (live->out_source, G_SOURCE_FUNC (on_writable),
                               live, NULL);
        g_source_attach (live->out_source, NULL);
        return;
      }
      g_debug ("Stream of camera %s to display %" G_GINT64_FORMAT ": %s",
               live->camera_id, live->display_id, error->message);
      live_stream_cut (live);
      return;
    }
    live->buf_off += n;
  }
}

static void
on_live_wake (gpointer user_data)
{
  live_stream_pump (user_data);
}

/* Displays whose sockets are full are not woken by their stream: look at
 * how far behind they are from time to time. */
static gboolean
sweep (gpointer user_data)
{
  HearthLiveWriters *self = user_data;
  g_autoptr (GList) snapshot = g_list_copy (self->streams);

  for (GList *l = snapshot; l != NULL; l = l->next) {
    LiveStream *live = l->data;

    if (live->out_source != NULL)
      check_behind (live);
  }
  if (self->streams == NULL) {
    self->sweep_source = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

/* The headers are out: from here on the connection is ours. */
static void
on_live_wrote_headers (SoupServerMessage *msg, gpointer user_data)
{
  LiveStream *live = user_data;
  /* live->msg is let go here; the message lives on until the steal. */
  g_autoptr (SoupServerMessage) keep = g_object_ref (msg);

  g_signal_handlers_disconnect_by_data (msg, live);
  g_clear_object (&live->msg);
  live->io = soup_server_message_steal_connection (keep);
  if (live->io == NULL || live->done) {
    live_stream_cut (live);
    return;
  }
  live->out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (live->io));
  /* The init segment and the cached GOP go at once. */
  live_stream_pump (live);
}

static void
on_live_finished (SoupServerMessage *msg, gpointer user_data)
{
  live_stream_remove (user_data);
}

static void
live_start (HearthLiveWriters *self, HearthHttpRequest *request,
            const HearthCameraRow *row)
{
  SoupMessageHeaders *headers;
  HearthStream *stream;
  HearthStreamKind kind;
  LiveStream *live;
  guint per_display = 0;

  if (!hearth_api_camera_stream_kind (request, row, &kind))
    return;
  /* Only a stream that can start at once (init segment and keyframe):
   * an empty 200 would look like a camera that streams nothing. */
  stream = hearth_api_camera_ready_stream (
      request->msg, hearth_api_camera_lookup (self->cameras, row->id, kind));
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
  live->kind = kind;
  /* Subscribed now, so that the generation checked at the exit is the one
   * this request found ready (a restart before the headers are out ends
   * the response); nothing is taken until the connection is ours. */
  live->subscription = hearth_stream_subscribe (stream, on_live_wake, live);
  live->generation = hearth_subscription_get_generation (live->subscription);
  live->fingerprint = g_strdup (request->fingerprint);
  live->display_id = request->display->id;
  live->household_id = request->display->household_id;
  self->streams = g_list_prepend (self->streams, live);
  if (self->sweep_source == 0)
    self->sweep_source = g_timeout_add (SWEEP_INTERVAL_MS, sweep, self);

  hearth_http_set_status (request->msg, SOUP_STATUS_OK);
  headers = soup_server_message_get_response_headers (request->msg);
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_headers_set_content_type (headers, "video/mp4", NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  /* A stream ends with its connection, so a cut stream cannot be followed
   * by anything on the same connection. */
  soup_message_headers_replace (headers, "Connection", "close");

  g_signal_connect (request->msg, "finished", G_CALLBACK (on_live_finished), live);
  if (soup_server_message_get_method (request->msg) == SOUP_METHOD_HEAD) {
    live_stream_end (live);
    return;
  }
  g_signal_connect (request->msg, "wrote-headers",
                    G_CALLBACK (on_live_wrote_headers), live);
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

    self->streams = g_list_delete_link (self->streams, self->streams);
    if (live->io != NULL)
      hearth_connection_abort (live->socket);
    live_stream_free (live);
  }
  if (self->sweep_source != 0)
    g_source_remove (self->sweep_source);
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
