/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One request and its answer, for both ports: HearthHttpServer (the stream
 * port) and HearthPairing (the pairing port) answer through these, and
 * refuse what is too large through hearth_http_refuse_oversized() from
 * their "got-headers". The stream port's routes also find here the camera
 * a request names (through the choke point, HearthAccess) and the exit every
 * byte of camera data passes (hearth_http_check_egress, invariant 3). No
 * state: each function works on the message it is given, on the main
 * context.
 */
#define G_LOG_DOMAIN "hearth-http-request"

#include "http-request.h"
#include "error.h"

#include <string.h>

/* --- replies --------------------------------------------------------------- */

void
hearth_http_set_status (SoupServerMessage *msg, guint status)
{
  /* libsoup 3.2.3 knows no phrase for 429 or 431 (it sends "Unknown
   * Error"), and has the old ones for 413 and 414: every status the gateway
   * sends is named here, as RFC 9110 and RFC 6585 name it. */
  static const struct {
    guint status;
    const char *phrase;
  } phrases[] = {
    { SOUP_STATUS_OK, "OK" },
    { SOUP_STATUS_BAD_REQUEST, "Bad Request" },
    { SOUP_STATUS_FORBIDDEN, "Forbidden" },
    { SOUP_STATUS_NOT_FOUND, "Not Found" },
    { SOUP_STATUS_METHOD_NOT_ALLOWED, "Method Not Allowed" },
    { SOUP_STATUS_GONE, "Gone" },
    { SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "Content Too Large" },
    { SOUP_STATUS_REQUEST_URI_TOO_LONG, "URI Too Long" },
    { SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type" },
    { 429, "Too Many Requests" },
    { 431, "Request Header Fields Too Large" },
    { SOUP_STATUS_INTERNAL_SERVER_ERROR, "Internal Server Error" },
    { SOUP_STATUS_SERVICE_UNAVAILABLE, "Service Unavailable" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (phrases); i++) {
    if (phrases[i].status == status) {
      soup_server_message_set_status (msg, status, phrases[i].phrase);
      return;
    }
  }
  g_warn_if_reached ();
  soup_server_message_set_status (msg, status, NULL);
}

void
hearth_http_reply_json (SoupServerMessage *msg, guint status, JsonNode *node)
{
  g_autofree char *text = json_to_string (node, FALSE);

  hearth_http_set_status (msg, status);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Cache-Control", "no-store");
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    g_steal_pointer (&text), strlen (text));
}

void
hearth_http_reply_error (SoupServerMessage *msg, guint status, const char *code,
                         const char *message)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) node = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, code);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  node = json_builder_get_root (b);
  hearth_http_reply_json (msg, status, node);
}

void
hearth_http_reply_unavailable (SoupServerMessage *msg, const char *message)
{
  hearth_http_reply_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable",
                           message);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Retry-After", "1");
}

void
hearth_http_reply_gerror (SoupServerMessage *msg, const GError *error)
{
  guint status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
  const char *code = "internal";
  const char *message = error->message;

  if (error->domain == HEARTH_ERROR) {
    switch (error->code) {
      case HEARTH_ERROR_NOT_FOUND: status = 404; code = "not_found"; break;
      case HEARTH_ERROR_DENIED: status = 403; code = "forbidden"; break;
      case HEARTH_ERROR_INVALID: status = 400; code = "bad_request"; break;
      case HEARTH_ERROR_NOT_LOCAL: status = 403; code = "not_local"; break;
      case HEARTH_ERROR_LIMIT: status = 429; code = "limit"; break;
      case HEARTH_ERROR_QUARANTINED: status = 503; code = "quarantined"; break;
      case HEARTH_ERROR_RATE_LIMITED: status = 429; code = "rate_limited"; break;
      case HEARTH_ERROR_TOKEN_INVALID: status = 403; code = "token_invalid"; break;
      case HEARTH_ERROR_TOKEN_EXPIRED: status = 403; code = "token_expired"; break;
      case HEARTH_ERROR_TOKEN_SPENT: status = 403; code = "token_spent"; break;
      default: break;
    }
  }
  if (error->domain == HEARTH_ERROR && error->code == HEARTH_ERROR_TOKEN_INVALID)
    message = "this pairing code is not valid";
  else if (error->domain == HEARTH_ERROR && error->code == HEARTH_ERROR_TOKEN_EXPIRED)
    message = "this pairing code has expired";
  else if (error->domain == HEARTH_ERROR && error->code == HEARTH_ERROR_TOKEN_SPENT)
    message = "this pairing code was already used";
  else if (status == SOUP_STATUS_INTERNAL_SERVER_ERROR)
    message = "internal error";
  hearth_http_reply_error (msg, status, code, message);
}

void
hearth_http_reply_not_found (SoupServerMessage *msg)
{
  hearth_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "not_found",
                           "no such resource");
}

/* --- limits ---------------------------------------------------------------- */

/*
 * What a request may be, on both ports: far more than any client of the
 * gateway sends (a request target here is under 200 bytes). libsoup 3.2.3
 * itself reads at most 64 KiB of request line and header fields and then
 * closes the connection without an answer; below that, these limits answer.
 */
#define MAX_TARGET_BYTES 8192
#define MAX_HEADER_BYTES 16384

static void
add_header_size (const char *name, const char *value, gpointer user_data)
{
  gsize *size = user_data;

  *size += strlen (name) + strlen (value) + 4; /* ": " and CRLF */
}

void
hearth_http_refuse_oversized (SoupServerMessage *msg, goffset max_body)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  GUri *uri = soup_server_message_get_uri (msg);
  gsize target = 0, fields = 0;

  if (uri != NULL)
    target = strlen (g_uri_get_path (uri)) +
             (g_uri_get_query (uri) ? strlen (g_uri_get_query (uri)) + 1 : 0);
  soup_message_headers_foreach (headers, add_header_size, &fields);

  /* Answer before libsoup reads a body we would not take. */
  if (target > MAX_TARGET_BYTES)
    hearth_http_reply_error (msg, SOUP_STATUS_REQUEST_URI_TOO_LONG, "too_large",
                             "the request's URI is too long");
  else if (fields > MAX_HEADER_BYTES)
    hearth_http_reply_error (msg, 431, "too_large",
                             "the request's header fields are too large");
  else if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CHUNKED ||
           soup_message_headers_get_content_length (headers) > max_body)
    hearth_http_reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
                             "too_large", max_body == 0
                                 ? "this API takes no request body"
                                 : "the request body is too large");
  else
    return;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Connection", "close");
  /* libsoup 3.2.3 still reads the body before it writes the answer (unless
   * the client waits for "100 Continue"): what it reads is dropped, not
   * kept, and the gate's request deadline bounds how long that may take. */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg),
                                    FALSE);
}

/* --- access ---------------------------------------------------------------- */

HearthCameraRow *
hearth_http_request_camera (HearthHttpRequest *request, const char *camera_id)
{
  g_autoptr (GError) error = NULL;
  HearthCameraRow *row;

  row = hearth_access_camera (request->access, request->display, camera_id,
                              &error);
  if (row == NULL)
    hearth_http_reply_gerror (request->msg, error);
  return row;
}

/* --- held requests --------------------------------------------------------- */

static void
on_held_finished (SoupServerMessage *msg, gpointer user_data)
{
  HearthHeldRequest *held = user_data;

  g_signal_handler_disconnect (msg, held->finished_id);
  held->finished_id = 0;
}

void
hearth_held_request_init (HearthHeldRequest *held, HearthHttpRequest *request,
                          const char *camera_id)
{
  held->msg = g_object_ref (request->msg);
  held->access = request->access;
  held->fingerprint = g_strdup (request->fingerprint);
  held->camera_id = g_strdup (camera_id);
  held->display_id = request->display->id;
  held->household_id = request->display->household_id;
  held->finished_id = g_signal_connect (request->msg, "finished",
                                        G_CALLBACK (on_held_finished), held);
  soup_server_message_pause (request->msg);
}

gboolean
hearth_held_request_is_gone (const HearthHeldRequest *held)
{
  return held->finished_id == 0;
}

gboolean
hearth_held_request_still_allowed (HearthHeldRequest *held)
{
  g_autoptr (HearthDisplayRow) display = NULL;
  g_autoptr (HearthCameraRow) row = NULL;
  g_autoptr (GError) error = NULL;

  if (hearth_held_request_is_gone (held))
    return FALSE;
  display = hearth_access_resolve_display (held->access, held->fingerprint,
                                           &error);
  if (display != NULL)
    row = hearth_access_camera (held->access, display, held->camera_id, &error);
  if (row == NULL) {
    hearth_http_reply_gerror (held->msg, error);
    return FALSE;
  }
  return TRUE;
}

void
hearth_held_request_resume (HearthHeldRequest *held)
{
  if (!hearth_held_request_is_gone (held))
    soup_server_message_unpause (held->msg);
}

void
hearth_held_request_clear (HearthHeldRequest *held)
{
  if (held->finished_id != 0)
    g_signal_handler_disconnect (held->msg, held->finished_id);
  held->finished_id = 0;
  g_clear_object (&held->msg);
  g_clear_pointer (&held->fingerprint, g_free);
  g_clear_pointer (&held->camera_id, g_free);
}

/* --- the exit -------------------------------------------------------------- */

/**
 * hearth_http_check_egress:
 * @access: for the audit
 * @camera_id: @generation: what the request resolved to
 * @data_camera_id: @data_generation: what the bytes about to leave are of
 * @what: "stream", "snapshot", … for the log and audit
 *
 * Invariant 3, for every response that carries camera data. On a mismatch
 * nothing is written: the connection is dropped at once, and the event is
 * logged and audited.
 *
 * Returns: TRUE if the bytes may be written
 */
gboolean
hearth_http_check_egress (HearthAccess *access, SoupServerMessage *msg,
                          gint64 household_id, gint64 display_id,
                          const char *camera_id, guint64 generation,
                          const char *data_camera_id, guint64 data_generation,
                          const char *what)
{
  g_autofree char *detail = NULL;
  GSocket *socket;

  if (g_strcmp0 (data_camera_id, camera_id) == 0 && data_generation == generation)
    return TRUE;

  detail = g_strdup_printf (
      "%s of camera %s generation %" G_GUINT64_FORMAT " reached the %s of "
      "camera %s generation %" G_GUINT64_FORMAT " for display %" G_GINT64_FORMAT
      "; connection dropped", what, data_camera_id, data_generation, what,
      camera_id, generation, display_id);
  g_critical ("Egress mismatch: %s", detail);
  hearth_access_audit (access, "egress-mismatch", household_id, detail);
  /* @msg is NULL for a connection its writer has taken: it drops it. */
  if (msg == NULL)
    return FALSE;
  socket = soup_server_message_get_socket (msg);
  if (socket != NULL)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
  /* A response not yet begun still needs a status; its connection is gone. */
  if (soup_server_message_get_status (msg) == 0) {
    hearth_http_set_status (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR);
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "Connection", "close");
  }
  return FALSE;
}

