/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include "access.h"

G_BEGIN_DECLS

/*
 * One request and its answer, as both ports (the stream port and the
 * pairing port) write it: the statuses with their reason phrases, JSON
 * answers and errors, the limits on what a request may be, and the check
 * every byte of camera data passes on its way out (invariant 3).
 */

/* One request of the stream port that passed the choke point, as its
 * route's handler gets it. Valid for the handler's call only: a handler
 * that holds the message copies what it needs. */
typedef struct {
  SoupServerMessage *msg;
  const char *path;              /* percent-decoded, as routed */
  GHashTable *query;             /* (nullable) the URL's query */
  char **captures;               /* the route pattern's {…} segments, in order */
  HearthAccess *access;          /* the choke point that resolved @display */
  HearthDisplayRow *display;
  const char *fingerprint;       /* of the connection's accepted certificate */
} HearthHttpRequest;

/* The camera @camera_id as @request's display may see it, or NULL with the
 * refusal answered (a camera of another household is a 404 exactly like a
 * missing one). (transfer full) (nullable) */
HearthCameraRow *hearth_http_request_camera (HearthHttpRequest *request,
                                             const char *camera_id);

/*
 * For a request that was held (a blocking playlist reload, a snapshot being
 * decoded): asks the choke point again whether the display behind
 * @fingerprint may still see @camera_id. If not, answers the refusal on @msg
 * and returns FALSE.
 */
gboolean hearth_http_still_allowed (HearthAccess *access, SoupServerMessage *msg,
                                    const char *fingerprint,
                                    const char *camera_id);

/* Invariant 3 for any response with camera data (live chunks, snapshots,
 * HLS): FALSE, with the connection dropped and the event audited, unless
 * @data_camera_id/@data_generation are @camera_id/@generation. */
gboolean hearth_http_check_egress (HearthAccess *access, SoupServerMessage *msg,
                                   gint64 household_id, gint64 display_id,
                                   const char *camera_id, guint64 generation,
                                   const char *data_camera_id,
                                   guint64 data_generation, const char *what);

/* Every status the gateway answers is set through here, with its reason
 * phrase (libsoup 3.2.3 has none for 429 and 431). */
void hearth_http_set_status (SoupServerMessage *msg, guint status);
void hearth_http_reply_json (SoupServerMessage *msg, guint status,
                             JsonNode *node);
void hearth_http_reply_error (SoupServerMessage *msg, guint status,
                              const char *code, const char *message);
/* 404 "not_found": no such resource. */
void hearth_http_reply_not_found (SoupServerMessage *msg);
/* 503 "unavailable" with Retry-After: the camera may serve this soon. */
void hearth_http_reply_unavailable (SoupServerMessage *msg, const char *message);
/* Maps HEARTH_ERROR codes to statuses (NOT_FOUND → 404, DENIED → 403, …). */
void hearth_http_reply_gerror (SoupServerMessage *msg, const GError *error);
/* From "got-headers": answers and closes a request that is too large, from
 * its headers alone: 414 for a request target over 8 KiB, 431 for header
 * fields over 16 KiB, 413 for a body over @max_body bytes (or chunked). A
 * body such a request still sends is dropped as it arrives, never kept. */
void hearth_http_refuse_oversized (SoupServerMessage *msg, goffset max_body);

G_END_DECLS
