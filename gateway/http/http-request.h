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
 * A request answered later (a blocking playlist reload, a snapshot being
 * decoded): the message, paused, with what it resolved to. A route embeds
 * one in its own waiter. The display may go away meanwhile (then @msg
 * finished and nothing is to be answered) or lose the camera (then
 * hearth_held_request_still_allowed() answers the refusal).
 */
typedef struct {
  SoupServerMessage *msg;        /* (owned) paused until resumed */
  HearthAccess *access;          /* unowned: the route's, outliving us */
  char *fingerprint;             /* the connection's, to ask the choke point again */
  char *camera_id;               /* what the request resolved to */
  gint64 display_id;
  gint64 household_id;
  gulong finished_id;            /* 0 once the message finished */
} HearthHeldRequest;

/* Pauses @request's message and keeps what it resolved to (@camera_id). */
void hearth_held_request_init (HearthHeldRequest *held,
                               HearthHttpRequest *request,
                               const char *camera_id);
/* TRUE once the display went away: nothing to answer. */
gboolean hearth_held_request_is_gone (const HearthHeldRequest *held);
/* Asks the choke point again whether the display may still see the camera.
 * FALSE when it went away, or with the refusal answered. */
gboolean hearth_held_request_still_allowed (HearthHeldRequest *held);
/* Sends what was answered meanwhile (unless the display went away). */
void hearth_held_request_resume (HearthHeldRequest *held);
void hearth_held_request_clear (HearthHeldRequest *held);

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
