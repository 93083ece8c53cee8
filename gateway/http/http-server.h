/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include "access.h"
#include "camera.h"
#include "cameras.h"
#include "config.h"

G_BEGIN_DECLS

/*
 * HearthHttpServer: the stream port. HTTPS with a requested client
 * certificate, accepted only through HearthAccess; a client without one is
 * told it is not paired, whatever it asks; routes /v1/... and the viewer
 * (/); writes live streams to displays through one writer that checks every
 * chunk's camera and generation before it leaves (invariant 3).
 */
#define HEARTH_TYPE_HTTP_SERVER (hearth_http_server_get_type ())
G_DECLARE_FINAL_TYPE (HearthHttpServer, hearth_http_server, HEARTH, HTTP_SERVER,
                      GObject)

/* @cameras: the cameras it serves; it follows their "access-changed"
 * (hearth_http_server_recheck) and "camera-removed" (forgets the camera's
 * snapshots). */
HearthHttpServer *hearth_http_server_new (HearthAccess *access,
                                          HearthCameras *cameras,
                                          const HearthConfig *config);
gboolean hearth_http_server_listen (HearthHttpServer *self,
                                    GTlsCertificate *certificate,
                                    const char *address,
                                    GError **error);
/* A renewed certificate: for the connections that follow. */
void hearth_http_server_set_certificate (HearthHttpServer *self,
                                         GTlsCertificate *certificate);
guint16 hearth_http_server_get_port (HearthHttpServer *self);
/* Re-runs the access check for every live stream now; cuts those that fail.
 * Run on its HearthCameras' "access-changed". */
void hearth_http_server_recheck (HearthHttpServer *self);
guint hearth_http_server_get_n_streams (HearthHttpServer *self);
/* Open connections to the stream port, authenticated or not yet. */
guint hearth_http_server_get_n_connections (HearthHttpServer *self);
guint hearth_http_server_count_viewers (HearthHttpServer *self,
                                        const char *camera_id);
void hearth_http_server_close (HearthHttpServer *self);

/* One authenticated request, as handed to the api-*.c handlers. */
typedef struct {
  HearthHttpServer *server;
  SoupServerMessage *msg;
  HearthDisplayRow *display;
  const char *fingerprint;
  GHashTable *query;          /* (nullable) the URL's query */
} HearthHttpRequest;

HearthAccess *hearth_http_server_get_access (HearthHttpServer *self);
/* hearth_cameras_lookup() on the cameras it serves. (transfer none) (nullable) */
HearthCamera *hearth_http_server_lookup_camera (HearthHttpServer *self,
                                                const char *id);
/*
 * For a request that was held (a blocking playlist reload, a snapshot being
 * decoded): asks the choke point again whether the display behind
 * @fingerprint may still see @camera_id. If not, answers the refusal on @msg
 * and returns FALSE.
 */
gboolean hearth_http_server_still_allowed (HearthHttpServer *self,
                                           SoupServerMessage *msg,
                                           const char *fingerprint,
                                           const char *camera_id);

/*
 * The stream of @camera_id if its current generation can be served from its
 * start (an init segment and a keyframe); else NULL, with @msg answered by
 * hearth_http_server_reply_not_ready(). (transfer none) (nullable)
 */
HearthStream *hearth_http_server_ready_stream (HearthHttpServer *self,
                                               SoupServerMessage *msg,
                                               const char *camera_id);

/* 503 "unavailable" with Retry-After for an authorised camera that has no
 * stream to serve now: not running, offline, or no picture yet. */
void hearth_http_server_reply_not_ready (HearthHttpServer *self,
                                         SoupServerMessage *msg,
                                         const char *camera_id);


/* The routes of the stream port, from a request's path. */
typedef enum {
  HEARTH_ROUTE_NONE,      /* 404 */
  HEARTH_ROUTE_WEB,       /* "/" or "/app/..." */
  HEARTH_ROUTE_CAMERAS,   /* /v1/cameras */
  HEARTH_ROUTE_LIVE,      /* /v1/cameras/ID/live.mp4 */
  HEARTH_ROUTE_SNAPSHOT,  /* /v1/cameras/ID/snapshot.jpg */
  HEARTH_ROUTE_HLS,       /* /v1/cameras/ID/hls/NAME */
} HearthRoute;
HearthRoute hearth_http_route (const char *path, char **camera_id, char **name);

/* Every status the gateway answers is set through here, with its reason
 * phrase (libsoup 3.2.3 has none for 429 and 431). */
void hearth_http_set_status (SoupServerMessage *msg, guint status);
void hearth_http_reply_json (SoupServerMessage *msg, guint status,
                             JsonNode *node);
void hearth_http_reply_error (SoupServerMessage *msg, guint status,
                              const char *code, const char *message);
/* 503 "unavailable" with Retry-After: the camera may serve this soon. */
void hearth_http_reply_unavailable (SoupServerMessage *msg, const char *message);
/* From "got-headers": answers and closes a request that is too large, from
 * its headers alone: 414 for a request target over 8 KiB, 431 for header
 * fields over 16 KiB, 413 for a body over @max_body bytes (or chunked). A
 * body such a request still sends is dropped as it arrives, never kept. */
void hearth_http_refuse_oversized (SoupServerMessage *msg, goffset max_body);
/* Maps HEARTH_ERROR codes to statuses (NOT_FOUND → 404, DENIED → 403, …). */
void hearth_http_reply_gerror (SoupServerMessage *msg, const GError *error);

/* Invariant 3 for any response with camera data (live chunks, snapshots,
 * HLS): FALSE, with the connection dropped and the event audited, unless
 * @data_camera_id/@data_generation are @camera_id/@generation. */
gboolean hearth_http_server_check_egress (HearthHttpServer *self,
                                          SoupServerMessage *msg,
                                          gint64 household_id, gint64 display_id,
                                          const char *camera_id,
                                          guint64 generation,
                                          const char *data_camera_id,
                                          guint64 data_generation,
                                          const char *what);

/* api-snapshot.c: JPEGs keyed by (camera UUID, generation, keyframe). */
typedef struct _HearthSnapshotCache HearthSnapshotCache;
HearthSnapshotCache *hearth_snapshot_cache_new (void);
void hearth_snapshot_cache_free (HearthSnapshotCache *cache);
/* Drops @camera_id's finished pictures (a removed or restarted camera). */
void hearth_snapshot_cache_forget (HearthSnapshotCache *cache, const char *camera_id);
HearthSnapshotCache *hearth_http_server_get_snapshot_cache (HearthHttpServer *self);
void hearth_api_camera_snapshot (HearthHttpRequest *request,
                                 const char *camera_id);

/* api-hls.c: per camera and generation, the segments and parts served. */
typedef struct _HearthHlsIndexes HearthHlsIndexes;
HearthHlsIndexes *hearth_hls_indexes_new (void);
void hearth_hls_indexes_free (HearthHlsIndexes *self);
HearthHlsIndexes *hearth_http_server_get_hls_indexes (HearthHttpServer *self);
/* The names (hearth_hls_parse_name (name, "part-", ".m4s", &g, &s)) and the
 * blocking reload's query parameters, apart from any index. */
gboolean hearth_hls_parse_name (const char *name, const char *prefix,
                                const char *suffix, guint64 *generation,
                                guint64 *sequence);
gboolean hearth_hls_parse_blocking (GHashTable *query, gboolean *blocking,
                                    guint64 *msn, gboolean *has_part,
                                    guint64 *part);
/* @name: index.m3u8, init-G.mp4, seg-G-S.m4s or part-G-S.m4s */
void hearth_api_camera_hls (HearthHttpRequest *request, const char *camera_id,
                            const char *name);

/* api-web.c: @path is "/" (the viewer) or "/app/NAME" (its files). */
void hearth_api_web (HearthHttpRequest *request, const char *path);

/* api-cameras.c */
void hearth_api_cameras_list (HearthHttpRequest *request);

/* api-live.c: the live.mp4 responses of one server, and their writer. */
typedef struct _HearthLiveWriters HearthLiveWriters;
HearthLiveWriters *hearth_live_writers_new (HearthHttpServer *server,
                                            const HearthConfig *config);
/* Drops every response at once (the server is closing). */
void hearth_live_writers_free (HearthLiveWriters *self);
HearthLiveWriters *hearth_http_server_get_live_writers (HearthHttpServer *self);
/* Cuts each stream whose camera its display may no longer see. */
void hearth_live_writers_recheck (HearthLiveWriters *self, HearthAccess *access);
/* With @camera_id, the displays watching it now; with NULL, every live
 * response still open. */
guint hearth_live_writers_get_n (HearthLiveWriters *self, const char *camera_id);
void hearth_api_camera_live (HearthHttpRequest *request, const char *camera_id);

G_END_DECLS
