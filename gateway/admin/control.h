/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * HearthControl: the admin socket hearthctl talks to. A UNIX stream socket,
 * mode 0660 (group "hearth" when that group exists), peers checked with
 * SO_PEERCRED (root, the daemon's own user, or the hearth group). One JSON
 * object per line each way:
 *
 *   request:  {"method": "household.add", "params": {"name": "Home"}}
 *   reply:    {"result": {...}}   or   {"error": {"code": "not_found", "message": "..."}}
 *   events:   {"event": {...}}    zero or more lines after a reply, for requests
 *             the daemon keeps open (pair.open); then the daemon closes.
 *
 * Limits: request line ≤ 64 KiB, ≤ 16 concurrent connections, idle timeout 30 s
 * (not for a connection waiting for events).
 */
#define HEARTH_CONTROL_MAX_LINE (64 * 1024)   /* bytes, without the newline */
#define HEARTH_CONTROL_MAX_CONNECTIONS 16
#define HEARTH_CONTROL_IDLE_TIMEOUT_MS (30 * 1000)

#define HEARTH_TYPE_CONTROL (hearth_control_get_type ())
G_DECLARE_FINAL_TYPE (HearthControl, hearth_control, HEARTH, CONTROL, GObject)

typedef struct _HearthControlRequest HearthControlRequest;

/*
 * Called on the main context for each request. The handler must eventually
 * call exactly one of reply/reply_error (now or later); after a reply it may
 * keep a reference and send events, then call hearth_control_request_finish().
 */
typedef void (*HearthControlHandler) (HearthControl *control,
                                      HearthControlRequest *request,
                                      gpointer user_data);

HearthControl *hearth_control_new (HearthControlHandler handler,
                                   gpointer user_data,
                                   GDestroyNotify destroy);
/* Binds @path (removing a stale socket file first), sets mode and group. */
gboolean hearth_control_listen (HearthControl *self, const char *path,
                                GError **error);
void hearth_control_close (HearthControl *self);
/* Idle timeout for connections without an outstanding request (default
 * HEARTH_CONTROL_IDLE_TIMEOUT_MS); applies to connections accepted later. */
void hearth_control_set_idle_timeout (HearthControl *self, guint timeout_ms);

HearthControlRequest *hearth_control_request_ref (HearthControlRequest *req);
void hearth_control_request_unref (HearthControlRequest *req);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthControlRequest, hearth_control_request_unref)

const char *hearth_control_request_get_method (HearthControlRequest *req);
/* (transfer none) (nullable) */
JsonObject *hearth_control_request_get_params (HearthControlRequest *req);
/* Param accessors: NULL/-1 and an INVALID error naming the param when missing
 * or of the wrong type (pass error NULL for optional params). */
const char *hearth_control_request_get_string (HearthControlRequest *req,
                                               const char *name, GError **error);
gint64 hearth_control_request_get_int (HearthControlRequest *req,
                                       const char *name, gint64 default_value);

/* (transfer full) on @result. */
void hearth_control_request_reply (HearthControlRequest *req, JsonNode *result);
/* Error code string from the HearthError code: "invalid", "not_found",
 * "exists", "denied", "not_local", "limit", "failed", ... */
void hearth_control_request_reply_error (HearthControlRequest *req,
                                         const GError *error);
void hearth_control_request_send_event (HearthControlRequest *req,
                                        JsonNode *event);
/* Closes the connection after pending writes. */
void hearth_control_request_finish (HearthControlRequest *req);
/* TRUE once the peer has gone away (e.g. hearthctl pair was interrupted). */
gboolean hearth_control_request_is_closed (HearthControlRequest *req);

/* TRUE when something accepts connections on the admin socket @path (a
 * hearthd runs there). Blocks for the connection. */
gboolean hearth_control_socket_answers (const char *path);

/* The error code string used on the wire for a HearthError code. */
const char *hearth_control_error_code_to_string (int code);

/* One request line (without its line end) as a JSON object with a string
 * "method": the root node, or NULL with HEARTH_ERROR_INVALID saying what the
 * client is told. (transfer full) */
JsonNode *hearth_control_parse_request (const char *line, gsize len, GError **error);

G_END_DECLS
