/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthControl: the daemon side of the admin socket that hearthctl talks to.
 * The daemon creates one, gives it a handler and a path, and answers the
 * requests it hands over. One JSON object per line each way (see control.h).
 *
 * Who may talk: the socket file is 0660 and belongs to the "hearth" group
 * when that group exists, and every connection is checked again with
 * SO_PEERCRED, because file modes can be changed behind our back: root, the
 * daemon's own user, and members of the hearth group are let in; anyone else
 * gets a "denied" line and a log message.
 *
 * Everything runs on the main context that created the HearthControl: input
 * is read with GDataInputStream's buffer (which is also the line-length limit),
 * output goes through a per-connection queue of lines written asynchronously
 * in order. One request at a time per connection: the next line is read once
 * the outstanding request is done. While a request is outstanding the input
 * is still watched, so that a peer that goes away is noticed
 * (hearth_control_request_is_closed()).
 */
#define G_LOG_DOMAIN "hearth-control"
#define _GNU_SOURCE  /* struct ucred */

#include "control.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "error.h"
#include "json-text.h"

#define CONTROL_GROUP "hearth"
/* A line of MAX_LINE bytes and its newline fit in the read buffer. */
#define READ_BUFFER_SIZE (HEARTH_CONTROL_MAX_LINE + 1)
/* json-glib's parser recurses per nesting level: bound it before parsing. */
#define MAX_JSON_DEPTH 64
#define LISTEN_BACKLOG 32

typedef struct _Connection Connection;

struct _HearthControl {
  GObject parent_instance;

  HearthControlHandler handler;
  gpointer user_data;
  GDestroyNotify destroy;

  GMainContext *context;
  GSocketService *service;
  char *path;
  /* The socket file we bound, so that close() unlinks only ours. */
  dev_t path_dev;
  ino_t path_ino;
  gboolean have_group;
  gid_t group;
  guint idle_timeout_ms;

  GList *connections;   /* of Connection *, one reference each */
  guint n_counted;      /* connections counted against the limit */
};

G_DEFINE_FINAL_TYPE (HearthControl, hearth_control, G_TYPE_OBJECT)

struct _Connection {
  gint ref_count;
  HearthControl *control;       /* unowned; NULL once closed */
  GSocketConnection *stream;
  GDataInputStream *input;
  GOutputStream *output;
  GCancellable *cancellable;
  char *peer;                   /* who, for log lines */

  GQueue out_queue;             /* of GBytes: lines not yet written */
  gboolean writing;
  gboolean reading;
  gboolean dispatching;
  gboolean counted;
  gboolean eof;                 /* the peer closed its side or failed */
  gboolean closing;             /* close once out_queue is written */
  gboolean closed;
  GSource *idle_source;
  HearthControlRequest *request; /* outstanding, unowned */
};

struct _HearthControlRequest {
  gint ref_count;
  Connection *conn;             /* owned */
  char *method;
  JsonNode *root;
  JsonObject *params;           /* inside root, or NULL */
  gboolean replied;
  gboolean finished;
};

static void connection_process (Connection *conn);

/* Wire codes, indexed by HearthError. */
static const char *const error_codes[] = {
  [HEARTH_ERROR_FAILED] = "failed",
  [HEARTH_ERROR_INVALID] = "invalid",
  [HEARTH_ERROR_NOT_FOUND] = "not_found",
  [HEARTH_ERROR_EXISTS] = "exists",
  [HEARTH_ERROR_DENIED] = "denied",
  [HEARTH_ERROR_NOT_LOCAL] = "not_local",
  [HEARTH_ERROR_TOKEN_INVALID] = "token_invalid",
  [HEARTH_ERROR_TOKEN_EXPIRED] = "token_expired",
  [HEARTH_ERROR_TOKEN_SPENT] = "token_spent",
  [HEARTH_ERROR_RATE_LIMITED] = "rate_limited",
  [HEARTH_ERROR_STORE] = "store",
  [HEARTH_ERROR_TLS] = "tls",
  [HEARTH_ERROR_MEDIA] = "media",
  [HEARTH_ERROR_LIMIT] = "limit",
};

/**
 * hearth_control_error_code_to_string:
 * @code: a #HearthError code
 *
 * Returns: (transfer none): the error code used on the wire, "failed" for a
 *   code it does not know
 */
const char *
hearth_control_error_code_to_string (int code)
{
  if (code < 0 || code >= (int) G_N_ELEMENTS (error_codes) ||
      error_codes[code] == NULL)
    return "failed";
  return error_codes[code];
}

/* {"error": {"code": CODE, "message": MESSAGE}} */
static JsonNode *
error_node_new (const char *code, const char *message)
{
  g_autoptr (JsonObject) error = json_object_new ();
  g_autoptr (JsonObject) top = json_object_new ();

  json_object_set_string_member (error, "code", code);
  json_object_set_string_member (error, "message", message);
  json_object_set_object_member (top, "error", g_steal_pointer (&error));
  return json_node_init_object (json_node_alloc (), top);
}

/* {KEY: VALUE}; takes @value. */
static JsonNode *
wrap_node_new (const char *key, JsonNode *value)
{
  g_autoptr (JsonObject) top = json_object_new ();

  if (value == NULL)
    value = json_node_init_object (json_node_alloc (), json_object_new ());
  json_object_set_member (top, key, value);
  return json_node_init_object (json_node_alloc (), top);
}

static Connection *
connection_ref (Connection *conn)
{
  g_atomic_int_inc (&conn->ref_count);
  return conn;
}

static void
connection_unref (Connection *conn)
{
  if (!g_atomic_int_dec_and_test (&conn->ref_count))
    return;

  /* Every async operation holds a reference: none is running now. */
  g_assert (conn->closed);
  g_queue_clear_full (&conn->out_queue, (GDestroyNotify) g_bytes_unref);
  g_clear_object (&conn->cancellable);
  g_clear_object (&conn->input);
  g_clear_object (&conn->stream);
  g_free (conn->peer);
  g_free (conn);
}

static void
connection_disarm_idle (Connection *conn)
{
  if (conn->idle_source != NULL) {
    g_source_destroy (conn->idle_source);
    g_clear_pointer (&conn->idle_source, g_source_unref);
  }
}

/* Closes at once, dropping what was not written. The control's reference
 * goes away here: callers that use @conn afterwards hold their own. */
static void
connection_close (Connection *conn)
{
  HearthControl *control = conn->control;

  if (conn->closed)
    return;
  conn->closed = TRUE;
  conn->control = NULL;

  connection_disarm_idle (conn);
  g_cancellable_cancel (conn->cancellable);
  /* Closing a socket does not block; the queued bytes stay alive until the
   * last reference, in case a cancelled write still points at them. */
  g_io_stream_close (G_IO_STREAM (conn->stream), NULL, NULL);

  if (control != NULL) {
    if (conn->counted)
      control->n_counted--;
    control->connections = g_list_remove (control->connections, conn);
    connection_unref (conn);
  }
}

static void connection_flush (Connection *conn);

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Connection *conn = user_data;
  g_autoptr (GError) error = NULL;

  conn->writing = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result,
                                         NULL, &error)) {
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_debug ("admin connection from %s: %s", conn->peer, error->message);
      conn->eof = TRUE;
      connection_close (conn);
    }
    connection_unref (conn);
    return;
  }

  g_bytes_unref (g_queue_pop_head (&conn->out_queue));
  connection_flush (conn);
  connection_unref (conn);
}

/* Writes the next queued line; closes once all are written if asked to. */
static void
connection_flush (Connection *conn)
{
  GBytes *line;

  if (conn->writing || conn->closed)
    return;

  line = g_queue_peek_head (&conn->out_queue);
  if (line == NULL) {
    if (conn->closing)
      connection_close (conn);
    return;
  }

  conn->writing = TRUE;
  g_output_stream_write_all_async (conn->output,
                                   g_bytes_get_data (line, NULL),
                                   g_bytes_get_size (line),
                                   G_PRIORITY_DEFAULT, conn->cancellable,
                                   on_written, connection_ref (conn));
}

/* Queues @node (transfer full) as one line. */
static void
connection_send (Connection *conn, JsonNode *node)
{
  g_autoptr (JsonNode) owned = node;
  g_autoptr (JsonGenerator) generator = NULL;
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;
  gsize len = 0;

  if (conn->closed)
    return;

  generator = json_generator_new ();
  json_generator_set_root (generator, owned);
  text = json_generator_to_data (generator, &len);
  /* Compact output escapes newlines inside strings: one line per node. */
  line = g_strconcat (text, "\n", NULL);
  g_queue_push_tail (&conn->out_queue,
                     g_bytes_new_take (g_steal_pointer (&line), len + 1));
  connection_flush (conn);
}

static void
connection_send_error (Connection *conn, const char *code,
                       const char *message)
{
  connection_send (conn, error_node_new (code, message));
}

static gboolean
on_idle_timeout (gpointer user_data)
{
  Connection *conn = user_data;

  g_debug ("admin connection from %s idle for %u ms, closing", conn->peer,
           conn->control != NULL ? conn->control->idle_timeout_ms : 0);
  g_clear_pointer (&conn->idle_source, g_source_unref);
  connection_ref (conn);
  connection_close (conn);
  connection_unref (conn);
  return G_SOURCE_REMOVE;
}

/* Starts the idle timer unless it runs already: bytes trickling in without
 * a newline do not keep a connection alive. */
static void
connection_arm_idle (Connection *conn)
{
  if (conn->idle_source != NULL || conn->control == NULL)
    return;
  conn->idle_source = g_timeout_source_new (conn->control->idle_timeout_ms);
  g_source_set_callback (conn->idle_source, on_idle_timeout, conn, NULL);
  g_source_set_static_name (conn->idle_source, "hearth-control-idle");
  g_source_attach (conn->idle_source, conn->control->context);
}

static gboolean
connection_has_line (Connection *conn, gsize *available)
{
  GBufferedInputStream *input = G_BUFFERED_INPUT_STREAM (conn->input);
  gsize avail = 0;
  const void *buffer;

  buffer = g_buffered_input_stream_peek_buffer (input, &avail);
  if (available != NULL)
    *available = avail;
  return avail > 0 && memchr (buffer, '\n', avail) != NULL;
}

static void
on_filled (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Connection *conn = user_data;
  g_autoptr (GError) error = NULL;
  gssize n;

  conn->reading = FALSE;
  n = g_buffered_input_stream_fill_finish (G_BUFFERED_INPUT_STREAM (source),
                                           result, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    connection_unref (conn);
    return;
  }
  if (n < 0)
    g_debug ("admin connection from %s: %s", conn->peer, error->message);
  if (n <= 0)
    conn->eof = TRUE;

  connection_process (conn);
  connection_unref (conn);
}

/* Reads more input unless a whole line waits already, or the buffer is full
 * (a line too long, answered once the current request is done). */
static void
connection_read_more (Connection *conn)
{
  gsize avail;

  if (conn->closed || conn->eof || conn->reading)
    return;
  if (connection_has_line (conn, &avail) || avail >= READ_BUFFER_SIZE)
    return;

  conn->reading = TRUE;
  g_buffered_input_stream_fill_async (G_BUFFERED_INPUT_STREAM (conn->input), -1,
                                      G_PRIORITY_DEFAULT, conn->cancellable,
                                      on_filled, connection_ref (conn));
}

static HearthControlRequest *
request_new (Connection *conn, JsonNode *root)
{
  HearthControlRequest *req = g_new0 (HearthControlRequest, 1);
  JsonObject *object = json_node_get_object (root);
  JsonNode *params;

  req->ref_count = 1;
  req->conn = connection_ref (conn);
  req->root = root;
  req->method = g_strdup (json_object_get_string_member (object, "method"));
  params = json_object_get_member (object, "params");
  if (params != NULL && JSON_NODE_HOLDS_OBJECT (params))
    req->params = json_node_get_object (params);
  return req;
}

/**
 * hearth_control_parse_request:
 * @line: one request line, without its line end (not NUL-terminated)
 * @len: its length
 *
 * Parses and checks one request: a JSON object with a string "method" and,
 * if any, an object (or null) "params". The error's message is what the
 * client is told.
 *
 * Returns: (transfer full) (nullable): the request's root node.
 */
JsonNode *
hearth_control_parse_request (const char *line, gsize len, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) local_error = NULL;
  HearthJsonScan scan;
  JsonObject *object;
  JsonNode *method;
  JsonNode *params;

  if (!g_utf8_validate (line, (gssize) len, NULL)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "request is not valid UTF-8");
    return NULL;
  }
  hearth_json_scan (line, len, &scan);
  if (scan.depth > MAX_JSON_DEPTH) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "request nests too deeply");
    return NULL;
  }
  if (scan.has_nul) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "request has a NUL character (\\u0000) in a string, "
                         "which no name or value may hold");
    return NULL;
  }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, line, (gssize) len, &local_error)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID, "malformed JSON: %s",
                 local_error->message);
    return NULL;
  }
  root = json_parser_steal_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "request is not a JSON object");
    return NULL;
  }
  object = json_node_get_object (root);
  method = json_object_get_member (object, "method");
  if (method == NULL || !JSON_NODE_HOLDS_VALUE (method) ||
      json_node_get_value_type (method) != G_TYPE_STRING) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "request has no string \"method\"");
    return NULL;
  }
  params = json_object_get_member (object, "params");
  if (params != NULL && !JSON_NODE_HOLDS_OBJECT (params) &&
      !JSON_NODE_HOLDS_NULL (params)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "request \"params\" is not an object");
    return NULL;
  }
  return g_steal_pointer (&root);
}

/* Parses and checks one request line; answers malformed ones itself. */
static void
connection_handle_line (Connection *conn, char *line, gsize len)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;
  HearthControl *control = conn->control;
  HearthControlRequest *req;

  if (len > 0 && line[len - 1] == '\r')
    line[--len] = '\0';
  /* An empty line is no request: ignore it, as a shell user would expect. */
  if (len == 0)
    return;

  root = hearth_control_parse_request (line, len, &error);
  if (root == NULL) {
    connection_send_error (conn, "invalid", error->message);
    return;
  }
  if (control == NULL)
    return;

  req = request_new (conn, g_steal_pointer (&root));
  conn->request = req;
  connection_disarm_idle (conn);
  g_debug ("admin request %s from %s", req->method, conn->peer);

  g_object_ref (control);
  control->handler (control, req, control->user_data);
  g_object_unref (control);
  hearth_control_request_unref (req);
}

/* Handles the lines that wait in the buffer, one request at a time, then
 * decides what the connection waits for next. */
static void
connection_process (Connection *conn)
{
  gsize avail = 0;

  if (conn->closed || conn->dispatching)
    return;

  while (!conn->closed && !conn->closing && conn->request == NULL) {
    g_autoptr (GError) error = NULL;
    g_autofree char *line = NULL;
    gsize len = 0;

    if (!connection_has_line (conn, &avail)) {
      if (avail >= READ_BUFFER_SIZE) {
        g_message ("admin connection from %s sent a request over %d bytes, "
                   "closing", conn->peer, HEARTH_CONTROL_MAX_LINE);
        connection_send_error (conn, "invalid", "request too long");
        conn->closing = TRUE;
        connection_flush (conn);
        return;
      }
      break;
    }

    /* The newline is in the buffer: this does not block. */
    line = g_data_input_stream_read_line (conn->input, &len, NULL, &error);
    if (line == NULL) {
      if (error != NULL)
        g_debug ("admin connection from %s: %s", conn->peer, error->message);
      conn->eof = TRUE;
      break;
    }

    conn->dispatching = TRUE;
    connection_handle_line (conn, line, len);
    conn->dispatching = FALSE;
  }

  if (conn->closed || conn->closing)
    return;

  if (conn->request == NULL) {
    if (conn->eof) {
      /* Nothing more will come: close once the answers are out. */
      conn->closing = TRUE;
      connection_flush (conn);
      return;
    }
    connection_arm_idle (conn);
  }
  connection_read_more (conn);
}

static gboolean
groups_line_contains (const char *status, gid_t group)
{
  const char *line = strstr (status, "\nGroups:");
  g_auto (GStrv) ids = NULL;
  g_autofree char *value = NULL;
  const char *end;

  if (line == NULL)
    return FALSE;
  line += strlen ("\nGroups:");
  end = strchr (line, '\n');
  value = end != NULL ? g_strndup (line, (gsize) (end - line))
                      : g_strdup (line);
  ids = g_strsplit_set (g_strstrip (value), " \t", -1);
  for (guint i = 0; ids[i] != NULL; i++) {
    guint64 id;

    if (ids[i][0] != '\0' &&
        g_ascii_string_to_unsigned (ids[i], 10, 0, G_MAXUINT32, &id, NULL) &&
        (gid_t) id == group)
      return TRUE;
  }
  return FALSE;
}

static gboolean
user_in_group (uid_t uid, gid_t gid, gid_t group)
{
  struct passwd pw, *found = NULL;
  char buf[4096];
  gid_t groups[256];
  int n = G_N_ELEMENTS (groups);

  if (getpwuid_r (uid, &pw, buf, sizeof buf, &found) != 0 || found == NULL)
    return FALSE;
  if (getgrouplist (pw.pw_name, gid, groups, &n) < 0)
    return FALSE;
  for (int i = 0; i < n; i++)
    if (groups[i] == group)
      return TRUE;
  return FALSE;
}

/* Whether the peer may use the socket; @peer describes it for the log. */
static gboolean
connection_check_peer (HearthControl *self, GSocketConnection *stream,
                       char **peer)
{
  GSocket *socket = g_socket_connection_get_socket (stream);
  g_autoptr (GCredentials) credentials = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *status_path = NULL;
  g_autofree char *status = NULL;
  struct ucred *ucred;

  credentials = g_socket_get_credentials (socket, &error);
  if (credentials == NULL) {
    *peer = g_strdup_printf ("an unknown peer (%s)", error->message);
    return FALSE;
  }
  ucred = g_credentials_get_native (credentials,
                                    G_CREDENTIALS_TYPE_LINUX_UCRED);
  if (ucred == NULL) {
    *peer = g_strdup ("an unknown peer (no SO_PEERCRED)");
    return FALSE;
  }
  *peer = g_strdup_printf ("uid %u gid %u pid %d", (guint) ucred->uid,
                           (guint) ucred->gid, (int) ucred->pid);

  if (ucred->uid == 0 || ucred->uid == geteuid ())
    return TRUE;
  if (!self->have_group)
    return FALSE;
  if (ucred->gid == self->group)
    return TRUE;

  /* Supplementary groups: the peer process's own, as the kernel has them;
   * where another user's processes are hidden (ProtectProc=invisible in the
   * unit), the user's groups from the user database. */
  status_path = g_strdup_printf ("/proc/%d/status", (int) ucred->pid);
  if (g_file_get_contents (status_path, &status, NULL, NULL))
    return groups_line_contains (status, self->group);
  return user_in_group (ucred->uid, ucred->gid, self->group);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *stream,
             GObject *source_object, gpointer user_data)
{
  HearthControl *self = user_data;
  Connection *conn = g_new0 (Connection, 1);
  gboolean allowed;

  conn->ref_count = 1;  /* the control's, in self->connections */
  conn->control = self;
  conn->stream = g_object_ref (stream);
  conn->input = g_data_input_stream_new (
      g_io_stream_get_input_stream (G_IO_STREAM (stream)));
  /* The buffer is the line limit: it never grows (see connection_process). */
  g_buffered_input_stream_set_buffer_size (
      G_BUFFERED_INPUT_STREAM (conn->input), READ_BUFFER_SIZE);
  g_data_input_stream_set_newline_type (conn->input,
                                        G_DATA_STREAM_NEWLINE_TYPE_LF);
  g_filter_input_stream_set_close_base_stream (
      G_FILTER_INPUT_STREAM (conn->input), FALSE);
  conn->output = g_io_stream_get_output_stream (G_IO_STREAM (stream));
  conn->cancellable = g_cancellable_new ();
  g_queue_init (&conn->out_queue);
  self->connections = g_list_prepend (self->connections, conn);

  allowed = connection_check_peer (self, stream, &conn->peer);
  if (!allowed) {
    g_message ("refused admin connection from %s: not root, not hearthd's "
               "user and not in group " CONTROL_GROUP, conn->peer);
    connection_send_error (conn, "denied",
                           "permission denied: not root, not hearthd's user "
                           "and not in group " CONTROL_GROUP);
    conn->closing = TRUE;
    connection_flush (conn);
    return TRUE;
  }
  if (self->n_counted >= HEARTH_CONTROL_MAX_CONNECTIONS) {
    g_autofree char *message =
        g_strdup_printf ("too many admin connections (%d), try again later",
                         HEARTH_CONTROL_MAX_CONNECTIONS);

    g_message ("refused admin connection from %s: already %u connections",
               conn->peer, self->n_counted);
    connection_send_error (conn, "limit", message);
    conn->closing = TRUE;
    connection_flush (conn);
    return TRUE;
  }

  conn->counted = TRUE;
  self->n_counted++;
  g_debug ("admin connection from %s", conn->peer);
  connection_arm_idle (conn);
  connection_read_more (conn);
  return TRUE;
}

static void
hearth_control_dispose (GObject *object)
{
  hearth_control_close (HEARTH_CONTROL (object));
  G_OBJECT_CLASS (hearth_control_parent_class)->dispose (object);
}

static void
hearth_control_finalize (GObject *object)
{
  HearthControl *self = HEARTH_CONTROL (object);

  if (self->destroy != NULL)
    self->destroy (self->user_data);
  g_free (self->path);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (hearth_control_parent_class)->finalize (object);
}

static void
hearth_control_class_init (HearthControlClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hearth_control_dispose;
  object_class->finalize = hearth_control_finalize;
}

static void
hearth_control_init (HearthControl *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->idle_timeout_ms = HEARTH_CONTROL_IDLE_TIMEOUT_MS;
}

/**
 * hearth_control_new:
 * @handler: called on the main context for each request
 * @user_data: for @handler
 * @destroy: (nullable): frees @user_data when the control is finalized
 *
 * Returns: (transfer full): a control socket, not listening yet
 */
HearthControl *
hearth_control_new (HearthControlHandler handler, gpointer user_data,
                    GDestroyNotify destroy)
{
  HearthControl *self;

  g_return_val_if_fail (handler != NULL, NULL);

  self = g_object_new (HEARTH_TYPE_CONTROL, NULL);
  self->handler = handler;
  self->user_data = user_data;
  self->destroy = destroy;
  return self;
}

/**
 * hearth_control_set_idle_timeout:
 * @self: a #HearthControl
 * @timeout_ms: milliseconds a connection may stay without a request
 *
 * Connections accepted afterwards use @timeout_ms.
 */
void
hearth_control_set_idle_timeout (HearthControl *self, guint timeout_ms)
{
  g_return_if_fail (HEARTH_IS_CONTROL (self));
  g_return_if_fail (timeout_ms > 0);

  self->idle_timeout_ms = timeout_ms;
}

/**
 * hearth_control_socket_answers:
 * @path: an admin socket
 *
 * For the programs that must not run beside hearthd (restore).
 *
 * Returns: %TRUE when something accepts connections on @path
 */
gboolean
hearth_control_socket_answers (const char *path)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr (GSocketConnection) connection = NULL;

  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address),
                                        NULL, NULL);
  if (connection == NULL)
    return FALSE;
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  return TRUE;
}

/* Makes room for our socket at @path: a socket nobody answers on or a plain
 * file is removed; a live daemon is left alone. */
static gboolean
remove_stale_socket (const char *path, GError **error)
{
  GStatBuf st;

  if (g_lstat (path, &st) < 0) {
    int saved_errno = errno;

    if (saved_errno == ENOENT)
      return TRUE;
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "cannot check %s: %s", path, g_strerror (saved_errno));
    return FALSE;
  }
  if (S_ISDIR (st.st_mode)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "cannot put the admin socket at %s: it is a directory", path);
    return FALSE;
  }

  if (S_ISSOCK (st.st_mode)) {
    g_autoptr (GSocket) probe = NULL;
    g_autoptr (GSocketAddress) address = NULL;
    g_autoptr (GError) local_error = NULL;

    probe = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                          G_SOCKET_PROTOCOL_DEFAULT, &local_error);
    if (probe == NULL) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                   "cannot check %s: %s", path, local_error->message);
      return FALSE;
    }
    /* Never wait: a daemon with a full backlog is still a live daemon. */
    g_socket_set_blocking (probe, FALSE);
    address = g_unix_socket_address_new (path);
    if (g_socket_connect (probe, address, NULL, &local_error) ||
        g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_PENDING) ||
        g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      g_socket_close (probe, NULL);
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
                   "another hearthd is running on %s", path);
      return FALSE;
    }
  }

  g_debug ("removing stale %s", path);
  if (g_unlink (path) < 0 && errno != ENOENT) {
    int saved_errno = errno;

    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "cannot remove the stale %s: %s", path,
                 g_strerror (saved_errno));
    return FALSE;
  }
  return TRUE;
}

/**
 * hearth_control_listen:
 * @self: a #HearthControl
 * @path: where the socket goes
 * @error: return location for a #GError
 *
 * Binds @path, removing a stale socket file first (HEARTH_ERROR_EXISTS if
 * another daemon answers on it), makes it mode 0660 and gives it to the
 * "hearth" group when that group exists.
 *
 * Returns: %TRUE when listening
 */
gboolean
hearth_control_listen (HearthControl *self, const char *path, GError **error)
{
  g_autoptr (GSocketService) service = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  g_autoptr (GError) local_error = NULL;
  struct group *group;
  GStatBuf st;

  g_return_val_if_fail (HEARTH_IS_CONTROL (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (self->service == NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!remove_stale_socket (path, error))
    return FALSE;

  service = g_socket_service_new ();
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (service), LISTEN_BACKLOG);
  address = g_unix_socket_address_new (path);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), address,
                                      G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL,
                                      &local_error)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "cannot listen on %s: %s", path, local_error->message);
    return FALSE;
  }

  /* Connections are checked with SO_PEERCRED too, so the moment between
   * bind and chmod lets nobody in. */
  if (g_chmod (path, 0660) < 0 || g_lstat (path, &st) < 0) {
    int saved_errno = errno;

    g_socket_listener_close (G_SOCKET_LISTENER (service));
    g_unlink (path);
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "cannot set the mode of %s: %s", path,
                 g_strerror (saved_errno));
    return FALSE;
  }
  self->path_dev = st.st_dev;
  self->path_ino = st.st_ino;

  group = getgrnam (CONTROL_GROUP);
  self->have_group = group != NULL;
  if (group != NULL) {
    self->group = group->gr_gid;
    /* Running as the group already (the systemd unit) needs no chown. */
    if (st.st_gid != self->group && chown (path, (uid_t) -1, self->group) < 0)
      g_message ("cannot give %s to group " CONTROL_GROUP ": %s, ignoring",
                 path, g_strerror (errno));
  }

  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (service);
  self->service = g_steal_pointer (&service);
  self->path = g_strdup (path);
  g_debug ("admin socket listening on %s", path);
  return TRUE;
}

/**
 * hearth_control_close:
 * @self: a #HearthControl
 *
 * Stops listening, removes the socket file and closes every connection:
 * requests still held report hearth_control_request_is_closed().
 */
void
hearth_control_close (HearthControl *self)
{
  g_return_if_fail (HEARTH_IS_CONTROL (self));

  if (self->service != NULL) {
    GStatBuf st;

    g_signal_handlers_disconnect_by_data (self->service, self);
    g_socket_service_stop (self->service);
    g_socket_listener_close (G_SOCKET_LISTENER (self->service));
    g_clear_object (&self->service);

    /* Only ours: another daemon may have replaced it meanwhile. */
    if (g_lstat (self->path, &st) == 0 && st.st_dev == self->path_dev &&
        st.st_ino == self->path_ino)
      g_unlink (self->path);
    g_clear_pointer (&self->path, g_free);
  }

  while (self->connections != NULL)
    connection_close (self->connections->data);
}

/**
 * hearth_control_request_ref:
 * @req: a request
 *
 * Returns: (transfer full): @req
 */
HearthControlRequest *
hearth_control_request_ref (HearthControlRequest *req)
{
  g_return_val_if_fail (req != NULL, NULL);

  g_atomic_int_inc (&req->ref_count);
  return req;
}

/**
 * hearth_control_request_unref:
 * @req: (transfer full): a request
 *
 * Dropping the last reference to a request that was answered but not
 * finished lets its connection take the next request.
 */
void
hearth_control_request_unref (HearthControlRequest *req)
{
  Connection *conn;

  g_return_if_fail (req != NULL);

  if (!g_atomic_int_dec_and_test (&req->ref_count))
    return;

  conn = req->conn;
  if (conn->request == req)
    conn->request = NULL;
  if (!req->replied && !conn->closed) {
    g_message ("admin request %s from %s was dropped without an answer",
               req->method, conn->peer);
    connection_send_error (conn, "failed",
                           "hearthd dropped the request without answering");
  }
  if (!req->finished)
    connection_process (conn);

  json_node_unref (req->root);
  g_free (req->method);
  g_free (req);
  connection_unref (conn);
}

/**
 * hearth_control_request_get_method:
 * @req: a request
 *
 * Returns: (transfer none): the method, e.g. "household.add"
 */
const char *
hearth_control_request_get_method (HearthControlRequest *req)
{
  g_return_val_if_fail (req != NULL, NULL);

  return req->method;
}

/**
 * hearth_control_request_get_params:
 * @req: a request
 *
 * Returns: (transfer none) (nullable): the params object, if any
 */
JsonObject *
hearth_control_request_get_params (HearthControlRequest *req)
{
  g_return_val_if_fail (req != NULL, NULL);

  return req->params;
}

/**
 * hearth_control_request_get_string:
 * @req: a request
 * @name: the param
 * @error: (nullable): return location for a #GError; %NULL for an optional
 *   param
 *
 * Returns: (transfer none) (nullable): the string param @name, or %NULL and
 *   HEARTH_ERROR_INVALID naming @name when it is missing or not a string
 */
const char *
hearth_control_request_get_string (HearthControlRequest *req,
                                   const char *name, GError **error)
{
  JsonNode *node;

  g_return_val_if_fail (req != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  node = req->params != NULL ? json_object_get_member (req->params, name)
                             : NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "missing parameter \"%s\"", name);
    return NULL;
  }
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "parameter \"%s\" must be a string", name);
    return NULL;
  }
  return json_node_get_string (node);
}

/**
 * hearth_control_request_get_int:
 * @req: a request
 * @name: the param
 * @default_value: returned when @name is missing or not an integer
 *
 * Returns: the integer param @name, or @default_value
 */
gint64
hearth_control_request_get_int (HearthControlRequest *req, const char *name,
                                gint64 default_value)
{
  JsonNode *node;

  g_return_val_if_fail (req != NULL, default_value);
  g_return_val_if_fail (name != NULL, default_value);

  node = req->params != NULL ? json_object_get_member (req->params, name)
                             : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return default_value;
  return json_node_get_int (node);
}

/**
 * hearth_control_request_reply:
 * @req: a request not answered yet
 * @result: (transfer full) (nullable): the result; %NULL means {}
 *
 * Sends {"result": @result}.
 */
void
hearth_control_request_reply (HearthControlRequest *req, JsonNode *result)
{
  g_return_if_fail (req != NULL);
  if (req->replied) {
    g_clear_pointer (&result, json_node_unref);
    g_return_if_reached ();
  }

  req->replied = TRUE;
  connection_send (req->conn, wrap_node_new ("result", result));
}

/**
 * hearth_control_request_reply_error:
 * @req: a request not answered yet
 * @error: what went wrong; its HEARTH_ERROR code gives the wire code
 *
 * Sends {"error": {"code": …, "message": …}}.
 */
void
hearth_control_request_reply_error (HearthControlRequest *req,
                                    const GError *error)
{
  const char *code = "failed";

  g_return_if_fail (req != NULL);
  g_return_if_fail (error != NULL);
  g_return_if_fail (!req->replied);

  if (error->domain == HEARTH_ERROR)
    code = hearth_control_error_code_to_string (error->code);
  req->replied = TRUE;
  connection_send_error (req->conn, code, error->message);
}

/**
 * hearth_control_request_send_event:
 * @req: an answered request
 * @event: (transfer full): the event
 *
 * Sends {"event": @event}; dropped once the connection is closed.
 */
void
hearth_control_request_send_event (HearthControlRequest *req, JsonNode *event)
{
  g_return_if_fail (req != NULL);
  g_return_if_fail (event != NULL);
  if (!req->replied || req->finished) {
    json_node_unref (event);
    g_return_if_reached ();
  }

  connection_send (req->conn, wrap_node_new ("event", event));
}

/**
 * hearth_control_request_finish:
 * @req: an answered request
 *
 * Closes the connection once the reply and events are written.
 */
void
hearth_control_request_finish (HearthControlRequest *req)
{
  Connection *conn;

  g_return_if_fail (req != NULL);
  g_return_if_fail (req->replied);

  if (req->finished)
    return;
  req->finished = TRUE;
  conn = req->conn;
  conn->closing = TRUE;
  connection_flush (conn);
}

/**
 * hearth_control_request_is_closed:
 * @req: a request
 *
 * Returns: %TRUE once the peer has gone away or the connection was closed:
 *   events sent now go nowhere
 */
gboolean
hearth_control_request_is_closed (HearthControlRequest *req)
{
  g_return_val_if_fail (req != NULL, TRUE);

  return req->conn->eof || req->conn->closed;
}
