/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for gateway/admin/control.c (the admin socket) and gateway/admin/hearthctl.c
 * (its client). A HearthControl listens in the fixture's state directory with a test
 * handler; clients are plain sockets driven on the test's own main context, and
 * the real hearthctl binary (HEARTH_BUILD_DIR/gateway/hearthctl) is run
 * against the same socket. Every wait has a deadline; nothing sleeps.
 */
#define G_LOG_DOMAIN "test-control"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <grp.h>
#include <json-glib/json-glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "control.h"
#include "error.h"
#include "fixture.h"

#define DEADLINE_S 20
#define CAMERA_ID "0b6e3c2a-5d41-4f8e-9a7b-2c1d0e3f4a5b"
#define PAYLOAD \
  "hearth://pair?v=1" \
  "&fp=3b6f0c9e2a41d8f5b7c3e19a04d2f6b8c5e7a9d1f3b5c7e9a2d4f6b8c0e2a4d6" \
  "&a=192.168.1.5:8444&a=127.0.0.1:8444" \
  "&t=9f2c4e6a8b0d1f3e5a7c9b2d4f6e8a0c&n=Home%20server"

typedef struct {
  HearthTestFixture base;   /* its own context, watchdog and directory */
  char *path;
  HearthControl *control;
  GPtrArray *held;          /* requests the handler kept */
  GPtrArray *methods;       /* every method the handler saw */
  JsonObject *last_params;  /* a copy of the last request's params */
} Fixture;

static gboolean
flag_is_set (gpointer data)
{
  return *(gboolean *) data;
}

static JsonNode *
object_node (JsonObject *object)
{
  JsonNode *node = json_node_init_object (json_node_alloc (), object);

  json_object_unref (object);
  return node;
}

static void
test_handler (HearthControl *control, HearthControlRequest *req,
              gpointer user_data)
{
  Fixture *f = user_data;
  const char *method = hearth_control_request_get_method (req);
  JsonObject *params = hearth_control_request_get_params (req);
  JsonObject *result = json_object_new ();

  g_ptr_array_add (f->methods, g_strdup (method));
  g_clear_pointer (&f->last_params, json_object_unref);
  if (params != NULL) {
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (),
                                                       params);
    g_autoptr (JsonNode) copy = json_node_copy (node);

    f->last_params = json_object_ref (json_node_get_object (copy));
  }

  if (g_str_equal (method, "echo")) {
    json_object_set_string_member (result, "method", method);
    if (params != NULL)
      json_object_set_object_member (result, "params",
                                     json_object_ref (f->last_params));
    hearth_control_request_reply (req, object_node (result));
  } else if (g_str_equal (method, "ping")) {
    json_object_set_boolean_member (result, "pong", TRUE);
    hearth_control_request_reply (req, object_node (result));
  } else if (g_str_equal (method, "events") || g_str_equal (method, "wait")) {
    json_object_set_boolean_member (result, "ok", TRUE);
    hearth_control_request_reply (req, object_node (result));
    g_ptr_array_add (f->held, hearth_control_request_ref (req));
  } else if (g_str_equal (method, "later")) {
    json_object_unref (result);
    g_ptr_array_add (f->held, hearth_control_request_ref (req));
  } else if (g_str_equal (method, "camera.add")) {
    json_object_set_string_member (result, "id", CAMERA_ID);
    hearth_control_request_reply (req, object_node (result));
  } else if (g_str_equal (method, "household.add") &&
             g_strcmp0 (hearth_control_request_get_string (req, "name", NULL),
                        "Taken") == 0) {
    g_autoptr (GError) error = g_error_new (HEARTH_ERROR, HEARTH_ERROR_EXISTS,
                                            "household Taken exists");

    json_object_unref (result);
    hearth_control_request_reply_error (req, error);
  } else if (g_str_equal (method, "household.list")) {
    g_autoptr (JsonArray) rows = json_array_new ();
    JsonObject *row = json_object_new ();

    json_object_set_string_member (row, "name", "Home");
    json_object_set_int_member (row, "cameras", 2);
    json_object_set_int_member (row, "displays", 1);
    json_array_add_object_element (rows, row);
    row = json_object_new ();
    json_object_set_string_member (row, "name", "Flat 2");
    json_object_set_int_member (row, "cameras", 10);
    json_object_set_int_member (row, "displays", 0);
    json_array_add_object_element (rows, row);
    json_object_set_array_member (result, "households",
                                  g_steal_pointer (&rows));
    hearth_control_request_reply (req, object_node (result));
  } else if (g_str_equal (method, "pair.open")) {
    const char *household = hearth_control_request_get_string (req, "household",
                                                               NULL);
    g_autoptr (JsonObject) event = json_object_new ();

    json_object_set_string_member (result, "payload", PAYLOAD);
    json_object_set_int_member (result, "expires_at",
                                g_get_real_time () / G_USEC_PER_SEC + 600);
    json_object_set_int_member (result, "window_id", 3);
    hearth_control_request_reply (req, object_node (result));
    /* The window "ends" at once: paired, or expired for "Expire". */
    if (g_strcmp0 (household, "Expire") == 0) {
      json_object_set_string_member (event, "type", "expired");
    } else {
      json_object_set_string_member (event, "type", "paired");
      json_object_set_int_member (event, "display_id", 7);
      json_object_set_string_member (event, "display_name", "Kitchen");
    }
    hearth_control_request_send_event (req,
                                       object_node (g_steal_pointer (&event)));
    hearth_control_request_finish (req);
  } else {
    g_autoptr (GError) error = g_error_new (HEARTH_ERROR,
                                            HEARTH_ERROR_NOT_FOUND,
                                            "no method %s", method);

    json_object_unref (result);
    hearth_control_request_reply_error (req, error);
  }
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  hearth_test_fixture_setup (&f->base, NULL);
  f->path = g_build_filename (f->base.state_dir, "hearthd.sock", NULL);
  f->held = g_ptr_array_new_with_free_func (
      (GDestroyNotify) hearth_control_request_unref);
  f->methods = g_ptr_array_new_with_free_func (g_free);
  f->control = hearth_control_new (test_handler, f, NULL);
}

static void
fixture_listen (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (hearth_control_listen (f->control, f->path, &error));
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->held, g_ptr_array_unref);
  g_clear_object (&f->control);
  /* Let cancelled operations finish, so that nothing is left behind. */
  while (g_main_context_iteration (f->base.context, FALSE))
    ;
  g_clear_pointer (&f->methods, g_ptr_array_unref);
  g_clear_pointer (&f->last_params, json_object_unref);
  g_free (f->path);
  hearth_test_fixture_teardown (&f->base, NULL);
}

/* A client of the admin socket. */
typedef struct {
  HearthTestFixture *fixture;
  GSocketConnection *connection;
  GDataInputStream *input;
  /* the line being read */
  gboolean done;
  char *line;
  /* an async write */
  gboolean written;
  char *write_buffer;
} Client;

static Client *
client_new (Fixture *f)
{
  g_autoptr (GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (f->path);
  g_autoptr (GError) error = NULL;
  Client *client = g_new0 (Client, 1);

  client->fixture = &f->base;
  client->connection = g_socket_client_connect (socket_client,
                                                G_SOCKET_CONNECTABLE (address),
                                                NULL, &error);
  g_assert_no_error (error);
  client->input = g_data_input_stream_new (
      g_io_stream_get_input_stream (G_IO_STREAM (client->connection)));
  return client;
}

static void
client_free (Client *client)
{
  g_io_stream_close (G_IO_STREAM (client->connection), NULL, NULL);
  g_object_unref (client->input);
  g_object_unref (client->connection);
  g_free (client->line);
  g_free (client->write_buffer);
  g_free (client);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

static void
client_send (Client *client, const char *text)
{
  g_autoptr (GError) error = NULL;
  GOutputStream *output =
      g_io_stream_get_output_stream (G_IO_STREAM (client->connection));

  g_assert_true (g_output_stream_write_all (output, text, strlen (text), NULL,
                                            NULL, &error));
  g_assert_no_error (error);
}

static void
on_client_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;

  /* The server may close before taking it all: that is the point. */
  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL,
                                    NULL);
  client->written = TRUE;
}

/* Sends @text (taken) without waiting: the server reads it meanwhile. */
static void
client_send_async (Client *client, char *text)
{
  GOutputStream *output =
      g_io_stream_get_output_stream (G_IO_STREAM (client->connection));

  client->written = FALSE;
  client->write_buffer = text;
  g_output_stream_write_all_async (output, text, strlen (text),
                                   G_PRIORITY_DEFAULT, NULL, on_client_written,
                                   client);
}

static void
on_client_line (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;

  client->line = g_data_input_stream_read_line_finish_utf8 (
      G_DATA_INPUT_STREAM (source), result, NULL, NULL);
  client->done = TRUE;
}

static gboolean
client_line_done (gpointer data)
{
  return ((Client *) data)->done;
}

/* The next line from the server, or NULL at the end of the stream. */
static char *
client_read_line (Client *client)
{
  client->done = FALSE;
  g_clear_pointer (&client->line, g_free);
  g_data_input_stream_read_line_async (client->input, G_PRIORITY_DEFAULT, NULL,
                                       on_client_line, client);
  g_assert_true (hearth_test_wait_for (client->fixture, client_line_done, client,
                                       DEADLINE_S));
  return g_steal_pointer (&client->line);
}

static JsonObject *
parse_object (const char *line)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonNode *root;

  g_assert_nonnull (line);
  g_assert_true (json_parser_load_from_data (parser, line, -1, &error));
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

/* Reads a line and checks it is an error with @code; returns its message. */
static char *
client_read_error (Client *client, const char *code)
{
  g_autofree char *line = client_read_line (client);
  g_autoptr (JsonObject) reply = parse_object (line);
  JsonObject *error;

  g_assert_true (json_object_has_member (reply, "error"));
  error = json_object_get_object_member (reply, "error");
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, code);
  return g_strdup (json_object_get_string_member (error, "message"));
}

/* Reads a line and checks it is a result; returns it. */
static JsonObject *
client_read_result (Client *client)
{
  g_autofree char *line = client_read_line (client);
  g_autoptr (JsonObject) reply = parse_object (line);

  g_assert_false (json_object_has_member (reply, "error"));
  return json_object_ref (json_object_get_object_member (reply, "result"));
}

static void
client_ping (Client *client)
{
  g_autoptr (JsonObject) result = NULL;

  client_send (client, "{\"method\": \"ping\"}\n");
  result = client_read_result (client);
  g_assert_true (json_object_get_boolean_member (result, "pong"));
}

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr (Client) client = NULL;
  g_autoptr (JsonObject) result = NULL;
  g_autoptr (JsonObject) second = NULL;
  g_autofree char *message = NULL;
  JsonObject *params;

  fixture_listen (f);
  client = client_new (f);

  client_send (client, "{\"method\": \"echo\", \"params\": "
                       "{\"name\": \"Home \\u00e9\\n\", \"n\": 5}}\n");
  result = client_read_result (client);
  g_assert_cmpstr (json_object_get_string_member (result, "method"), ==,
                   "echo");
  params = json_object_get_object_member (result, "params");
  g_assert_cmpstr (json_object_get_string_member (params, "name"), ==,
                   "Home \xc3\xa9\n");
  g_assert_cmpint (json_object_get_int_member (params, "n"), ==, 5);

  /* Two requests in one write: two answers, in order. */
  client_send (client, "{\"method\": \"nothing\"}\n{\"method\": \"ping\"}\n");
  message = client_read_error (client, "not_found");
  g_assert_cmpstr (message, ==, "no method nothing");
  second = client_read_result (client);
  g_assert_true (json_object_get_boolean_member (second, "pong"));

  /* CRLF and blank lines are fine. */
  client_send (client, "\r\n\n{\"method\": \"ping\"}\r\n");
  g_clear_pointer (&second, json_object_unref);
  second = client_read_result (client);
  g_assert_true (json_object_get_boolean_member (second, "pong"));

  g_assert_cmpuint (f->methods->len, ==, 4);
}

static void
test_params (Fixture *f, gconstpointer data)
{
  g_autoptr (Client) client = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) result = NULL;
  HearthControlRequest *req;

  fixture_listen (f);
  client = client_new (f);
  client_send (client, "{\"method\": \"wait\", \"params\": "
                       "{\"name\": \"Home\", \"ttl_seconds\": 90, "
                       "\"flag\": true}}\n");
  result = client_read_result (client);
  g_assert_cmpuint (f->held->len, ==, 1);
  req = g_ptr_array_index (f->held, 0);

  g_assert_cmpstr (hearth_control_request_get_method (req), ==, "wait");
  g_assert_cmpstr (hearth_control_request_get_string (req, "name", &error), ==,
                   "Home");
  g_assert_no_error (error);
  g_assert_null (hearth_control_request_get_string (req, "household", &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "household"));
  g_clear_error (&error);
  g_assert_null (hearth_control_request_get_string (req, "flag", &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "flag"));
  g_clear_error (&error);
  g_assert_null (hearth_control_request_get_string (req, "household", NULL));
  g_assert_cmpint (hearth_control_request_get_int (req, "ttl_seconds", -1), ==,
                   90);
  g_assert_cmpint (hearth_control_request_get_int (req, "name", -1), ==, -1);
  g_assert_cmpint (hearth_control_request_get_int (req, "nope", 600), ==, 600);

  g_assert_cmpstr (hearth_control_error_code_to_string (HEARTH_ERROR_NOT_FOUND),
                   ==, "not_found");
  g_assert_cmpstr (hearth_control_error_code_to_string (HEARTH_ERROR_LIMIT), ==,
                   "limit");
  g_assert_cmpstr (hearth_control_error_code_to_string (1000), ==, "failed");
}

static void
test_malformed (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *line;
    const char *message;
  } cases[] = {
    { "{not json\n", "malformed JSON" },
    { "[1, 2]\n", "not a JSON object" },
    { "\"ping\"\n", "not a JSON object" },
    { "{\"params\": {}}\n", "method" },
    { "{\"method\": 5}\n", "method" },
    { "{\"method\": \"ping\", \"params\": [1]}\n", "params" },
    { "{\"method\": \"ping\", \"x\": \"\xff\"}\n", "UTF-8" },
    /* json-glib would cut the name at the NUL: "Ho". */
    { "{\"method\": \"household.add\", \"params\": {\"name\": \"Ho\\u0000me\"}}\n",
      "NUL character" },
    { "{\"method\": \"ping\", \"x\": \"\\\\\\u0000\"}\n", "NUL character" },
  };
  g_autoptr (Client) client = NULL;
  g_autoptr (Client) after = NULL;
  g_autoptr (JsonObject) backslash = NULL;
  g_autoptr (GString) deep = g_string_new (NULL);
  g_autofree char *message = NULL;
  g_autofree char *end = NULL;
  g_autofree char *huge = NULL;

  fixture_listen (f);
  client = client_new (f);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *text = NULL;

    client_send (client, cases[i].line);
    text = client_read_error (client, "invalid");
    g_assert_nonnull (strstr (text, cases[i].message));
  }

  /* Deep nesting is refused before the parser recurses into it. */
  for (guint i = 0; i < 20000; i++)
    g_string_append_c (deep, '[');
  for (guint i = 0; i < 20000; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, '\n');
  client_send_async (client, g_strdup (deep->str));
  message = client_read_error (client, "invalid");
  g_assert_nonnull (strstr (message, "deep"));
  g_assert_true (hearth_test_wait_for (&f->base, flag_is_set, &client->written,
                                       DEADLINE_S));
  g_clear_pointer (&client->write_buffer, g_free);

  /* The connection still works after all that; an escaped backslash before
   * "u0000" is no NUL. */
  client_ping (client);
  g_assert_cmpuint (f->methods->len, ==, 1);
  client_send (client, "{\"method\": \"ping\", \"x\": \"\\\\u0000\"}\n");
  backslash = client_read_result (client);
  g_assert_cmpuint (f->methods->len, ==, 2);

  /* A 100 KiB line: an error, then the server closes. */
  huge = g_strnfill (100 * 1024, 'a');
  huge[0] = '{';
  huge[100 * 1024 - 1] = '\n';
  client_send_async (client, g_steal_pointer (&huge));
  g_clear_pointer (&message, g_free);
  message = client_read_error (client, "invalid");
  g_assert_cmpstr (message, ==, "request too long");
  end = client_read_line (client);
  g_assert_null (end);
  g_assert_true (hearth_test_wait_for (&f->base, flag_is_set, &client->written,
                                       DEADLINE_S));

  /* The server survives. */
  after = client_new (f);
  client_ping (after);
  g_assert_cmpuint (f->methods->len, ==, 3);
}

static void
test_events (Fixture *f, gconstpointer data)
{
  g_autoptr (Client) client = NULL;
  g_autoptr (JsonObject) result = NULL;
  g_autofree char *end = NULL;
  HearthControlRequest *req;

  fixture_listen (f);
  client = client_new (f);
  client_send (client, "{\"method\": \"events\"}\n");
  result = client_read_result (client);
  g_assert_true (json_object_get_boolean_member (result, "ok"));

  g_assert_cmpuint (f->held->len, ==, 1);
  req = g_ptr_array_index (f->held, 0);
  g_assert_false (hearth_control_request_is_closed (req));
  for (int i = 0; i < 3; i++) {
    JsonObject *event = json_object_new ();

    json_object_set_int_member (event, "n", i);
    hearth_control_request_send_event (req, object_node (event));
  }
  hearth_control_request_finish (req);

  for (int i = 0; i < 3; i++) {
    g_autofree char *line = client_read_line (client);
    g_autoptr (JsonObject) message = parse_object (line);
    JsonObject *event = json_object_get_object_member (message, "event");

    g_assert_nonnull (event);
    g_assert_cmpint (json_object_get_int_member (event, "n"), ==, i);
  }
  end = client_read_line (client);
  g_assert_null (end);
  g_assert_true (hearth_control_request_is_closed (req));
}

static gboolean
array_is_not_empty (gpointer data)
{
  return ((GPtrArray *) data)->len > 0;
}

static void
test_async_reply (Fixture *f, gconstpointer data)
{
  g_autoptr (Client) client = NULL;
  g_autoptr (JsonObject) result = NULL;
  HearthControlRequest *req;
  JsonObject *answer = json_object_new ();

  fixture_listen (f);
  client = client_new (f);
  /* The second request waits until the first is answered. */
  client_send (client, "{\"method\": \"later\"}\n{\"method\": \"ping\"}\n");
  g_assert_true (hearth_test_wait_for (&f->base, array_is_not_empty, f->held,
                                       DEADLINE_S));
  g_assert_cmpuint (f->held->len, ==, 1);
  g_assert_cmpuint (f->methods->len, ==, 1);

  req = g_ptr_array_index (f->held, 0);
  json_object_set_string_member (answer, "when", "later");
  hearth_control_request_reply (req, object_node (answer));
  result = client_read_result (client);
  g_assert_cmpstr (json_object_get_string_member (result, "when"), ==, "later");

  /* Once the handler lets go of it, the connection takes the next one. */
  g_ptr_array_set_size (f->held, 0);
  g_clear_pointer (&result, json_object_unref);
  result = client_read_result (client);
  g_assert_true (json_object_get_boolean_member (result, "pong"));
  g_assert_cmpuint (f->methods->len, ==, 2);
}

static void
test_connection_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) clients = g_ptr_array_new_with_free_func (
      (GDestroyNotify) client_free);
  g_autoptr (Client) extra = NULL;
  g_autofree char *message = NULL;
  g_autofree char *end = NULL;

  fixture_listen (f);
  for (guint i = 0; i < HEARTH_CONTROL_MAX_CONNECTIONS; i++) {
    Client *client = client_new (f);

    g_ptr_array_add (clients, client);
    client_ping (client);
  }

  extra = client_new (f);
  message = client_read_error (extra, "limit");
  g_assert_nonnull (strstr (message, "16"));
  end = client_read_line (extra);
  g_assert_null (end);

  /* The 16 still work. */
  for (guint i = 0; i < clients->len; i++)
    client_ping (g_ptr_array_index (clients, i));
}

static void
test_socket_mode (Fixture *f, gconstpointer data)
{
  GStatBuf st;

  fixture_listen (f);
  g_assert_cmpint (g_lstat (f->path, &st), ==, 0);
  g_assert_true (S_ISSOCK (st.st_mode));
  g_assert_cmpuint (st.st_mode & 07777, ==, 0660);
  if (getgrnam ("hearth") != NULL)
    g_assert_cmpuint (st.st_gid, ==, getgrnam ("hearth")->gr_gid);

  /* Closing removes it. */
  hearth_control_close (f->control);
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
}

static void
test_stale_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Client) client = NULL;
  GStatBuf st;

  g_assert_true (g_file_set_contents (f->path, "left over", -1, &error));
  g_assert_no_error (error);
  fixture_listen (f);
  g_assert_cmpint (g_lstat (f->path, &st), ==, 0);
  g_assert_true (S_ISSOCK (st.st_mode));
  client = client_new (f);
  client_ping (client);
}

static void
test_stale_socket (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) dead = NULL;
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (f->path);
  g_autoptr (Client) client = NULL;

  /* A daemon that died: its socket file is left, nobody listens. */
  dead = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                       G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (dead, address, FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (g_socket_close (dead, &error));
  g_assert_true (g_file_test (f->path, G_FILE_TEST_EXISTS));

  fixture_listen (f);
  client = client_new (f);
  client_ping (client);
}

static void
test_live_socket_exists (Fixture *f, gconstpointer data)
{
  g_autoptr (HearthControl) second = hearth_control_new (test_handler, f, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (Client) client = NULL;

  fixture_listen (f);
  g_assert_false (hearth_control_listen (second, f->path, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, "another hearthd is running"));
  g_assert_nonnull (strstr (error->message, f->path));
  g_clear_error (&error);
  g_clear_object (&second);

  /* The first one is untouched. */
  client = client_new (f);
  client_ping (client);

  /* A directory in the way is refused too. */
  hearth_control_close (f->control);
  g_assert_cmpint (g_mkdir (f->path, 0700), ==, 0);
  second = hearth_control_new (test_handler, f, NULL);
  g_assert_false (hearth_control_listen (second, f->path, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_rmdir (f->path);
}

static gboolean
request_is_closed (gpointer data)
{
  return hearth_control_request_is_closed (data);
}

static void
test_peer_closed (Fixture *f, gconstpointer data)
{
  g_autoptr (Client) client = NULL;
  g_autoptr (JsonObject) result = NULL;
  HearthControlRequest *req;

  fixture_listen (f);
  client = client_new (f);
  client_send (client, "{\"method\": \"wait\"}\n");
  result = client_read_result (client);
  req = g_ptr_array_index (f->held, 0);
  g_assert_false (hearth_control_request_is_closed (req));

  /* Like hearthctl pair stopped with ^C. */
  g_clear_pointer (&client, client_free);
  g_assert_true (hearth_test_wait_for (&f->base, request_is_closed, req,
                                       DEADLINE_S));

  /* Events now go nowhere, quietly. */
  hearth_control_request_send_event (req, object_node (json_object_new ()));
  hearth_control_request_finish (req);
}

static gboolean
line_is_eof (gpointer data)
{
  Client *client = data;

  return client->done && client->line == NULL;
}

static void
test_idle_timeout (Fixture *f, gconstpointer data)
{
  g_autoptr (Client) waiting = NULL;
  g_autoptr (Client) idle = NULL;
  g_autoptr (JsonObject) result = NULL;
  g_autofree char *line = NULL;
  HearthControlRequest *req;

  hearth_control_set_idle_timeout (f->control, 100);
  fixture_listen (f);

  /* Connected first, so its idle timer would have fired first. */
  waiting = client_new (f);
  client_send (waiting, "{\"method\": \"wait\"}\n");
  result = client_read_result (waiting);
  req = g_ptr_array_index (f->held, 0);

  idle = client_new (f);
  idle->done = FALSE;
  g_data_input_stream_read_line_async (idle->input, G_PRIORITY_DEFAULT, NULL,
                                       on_client_line, idle);
  g_assert_true (hearth_test_wait_for (&f->base, line_is_eof, idle,
                                       DEADLINE_S));

  /* The connection waiting for events is still there. */
  g_assert_false (hearth_control_request_is_closed (req));
  hearth_control_request_send_event (req, object_node (json_object_new ()));
  line = client_read_line (waiting);
  g_assert_cmpstr (line, ==, "{\"event\":{}}");
}

static void
test_close_ends_requests (Fixture *f, gconstpointer data)
{
  g_autoptr (Client) client = NULL;
  g_autoptr (JsonObject) result = NULL;
  g_autofree char *end = NULL;
  HearthControlRequest *req;

  fixture_listen (f);
  client = client_new (f);
  client_send (client, "{\"method\": \"wait\"}\n");
  result = client_read_result (client);
  req = g_ptr_array_index (f->held, 0);

  hearth_control_close (f->control);
  g_assert_true (hearth_control_request_is_closed (req));
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
  end = client_read_line (client);
  g_assert_null (end);
}

/* hearthctl, run for real. */
typedef struct {
  gboolean done;
  char *out;
  char *err;
  int status;
} Run;

static void
on_communicated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Run *run = user_data;
  GSubprocess *process = G_SUBPROCESS (source);
  g_autoptr (GError) error = NULL;

  g_subprocess_communicate_utf8_finish (process, result, &run->out, &run->err,
                                        &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  run->status = g_subprocess_get_exit_status (process);
  run->done = TRUE;
}

static void
drop_privileges (gpointer data)
{
  /* After fork, before exec: become nobody. */
  if (setgroups (0, NULL) < 0 || setgid (65534) < 0 || setuid (65534) < 0)
    _exit (99);
}

static gboolean
have_hearthctl (void)
{
  if (g_getenv ("HEARTH_BUILD_DIR") == NULL) {
    g_test_skip ("HEARTH_BUILD_DIR is not set: run through meson test");
    return FALSE;
  }
  return TRUE;
}

/* Runs hearthctl --socket PATH ARGS... while the main context serves it. */
static void
run_hearthctl (Fixture *f, Run *run, gboolean as_nobody, ...)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  const char *arg;
  va_list args;

  g_ptr_array_add (argv, g_build_filename (g_getenv ("HEARTH_BUILD_DIR"),
                                           "gateway", "hearthctl", NULL));
  g_ptr_array_add (argv, g_strdup ("--socket"));
  g_ptr_array_add (argv, g_strdup (f->path));
  va_start (args, as_nobody);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (args);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_unsetenv (launcher, "HEARTH_SOCKET");
  if (as_nobody)
    g_subprocess_launcher_set_child_setup (launcher, drop_privileges, NULL,
                                           NULL);
  process = g_subprocess_launcher_spawnv (launcher,
                                          (const char *const *) argv->pdata,
                                          &error);
  g_assert_no_error (error);

  memset (run, 0, sizeof (*run));
  g_subprocess_communicate_utf8_async (process, NULL, NULL, on_communicated,
                                       run);
  g_assert_true (hearth_test_wait_for (&f->base, flag_is_set, &run->done,
                                       DEADLINE_S));
}

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->out, g_free);
  g_clear_pointer (&run->err, g_free);
}

static void
test_hearthctl_camera_add (Fixture *f, gconstpointer data)
{
  Run run;

  if (!have_hearthctl ())
    return;
  fixture_listen (f);

  run_hearthctl (f, &run, FALSE, "camera", "add", "--household", "Home",
                 "--name", "Door", "rtsp://192.168.1.20:554/stream", NULL);
  g_assert_cmpstr (run.out, ==, CAMERA_ID "\n");
  g_assert_nonnull (strstr (run.err, "camera Door added"));
  g_assert_cmpint (run.status, ==, 0);
  g_assert_cmpstr (g_ptr_array_index (f->methods, 0), ==, "camera.add");
  g_assert_cmpstr (json_object_get_string_member (f->last_params, "household"),
                   ==, "Home");
  g_assert_cmpstr (json_object_get_string_member (f->last_params, "name"), ==,
                   "Door");
  g_assert_cmpstr (json_object_get_string_member (f->last_params, "url"), ==,
                   "rtsp://192.168.1.20:554/stream");
  run_clear (&run);

  /* --json: the raw result. */
  run_hearthctl (f, &run, FALSE, "--json", "camera", "add", "--household",
                 "Home", "--name", "Door", "rtsp://192.168.1.20/s", NULL);
  g_assert_cmpstr (run.out, ==, "{\"id\":\"" CAMERA_ID "\"}\n");
  g_assert_cmpint (run.status, ==, 0);
  run_clear (&run);
}

static void
test_hearthctl_pair_print_payload (Fixture *f, gconstpointer data)
{
  g_autofree char *png = NULL;
  Run run;

  if (!have_hearthctl ())
    return;
  fixture_listen (f);
  png = g_build_filename (f->base.state_dir, "pair.png", NULL);

  run_hearthctl (f, &run, FALSE, "pair", "--household", "Home", "--ttl", "90s",
                 "--print-payload", "--png", png, NULL);
  g_assert_cmpstr (run.out, ==, PAYLOAD "\n");
  g_assert_cmpint (run.status, ==, 0);
  g_assert_cmpstr (json_object_get_string_member (f->last_params, "household"),
                   ==, "Home");
  g_assert_cmpint (json_object_get_int_member (f->last_params, "ttl_seconds"),
                   ==, 90);
  g_assert_true (g_file_test (png, G_FILE_TEST_IS_REGULAR));
  run_clear (&run);

  /* The default window is 10 minutes. */
  run_hearthctl (f, &run, FALSE, "pair", "--household", "Home",
                 "--print-payload", NULL);
  g_assert_cmpint (json_object_get_int_member (f->last_params, "ttl_seconds"),
                   ==, 600);
  g_assert_cmpint (run.status, ==, 0);
  run_clear (&run);
}

static void
test_hearthctl_pair_events (Fixture *f, gconstpointer data)
{
  Run run;

  if (!have_hearthctl ())
    return;
  fixture_listen (f);

  run_hearthctl (f, &run, FALSE, "pair", "--household", "Home", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (strstr (run.out, "\xe2\x96\x88"));  /* the QR: █ */
  g_assert_nonnull (strstr (run.out, "\n" PAYLOAD "\n"));
  g_assert_true (g_str_has_suffix (run.out, "\npaired display 7 (Kitchen)\n"));
  run_clear (&run);

  run_hearthctl (f, &run, FALSE, "pair", "--household", "Home",
                 "--display-name-only", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_cmpstr (run.out, ==, "Kitchen\n");
  g_assert_nonnull (strstr (run.err, PAYLOAD));
  run_clear (&run);

  run_hearthctl (f, &run, FALSE, "pair", "--household", "Expire", NULL);
  g_assert_cmpint (run.status, ==, 1);
  g_assert_nonnull (strstr (run.err, "pairing window expired"));
  run_clear (&run);
}

static void
test_hearthctl_output (Fixture *f, gconstpointer data)
{
  Run run;

  if (!have_hearthctl ())
    return;
  fixture_listen (f);

  run_hearthctl (f, &run, FALSE, "household", "list", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_cmpstr (run.out, ==,
                   "NAME    CAMERAS  DISPLAYS\n"
                   "Home    2        1\n"
                   "Flat 2  10       0\n");
  run_clear (&run);

  run_hearthctl (f, &run, FALSE, "household", "add", "Garden", NULL);
  g_assert_cmpint (run.status, ==, 1);
  g_assert_cmpstr (run.err, ==, "hearthctl: no method household.add\n");
  run_clear (&run);

  run_hearthctl (f, &run, FALSE, "household", "add", "Taken", NULL);
  g_assert_cmpint (run.status, ==, 1);
  g_assert_cmpstr (run.out, ==, "");
  g_assert_cmpstr (run.err, ==, "hearthctl: household Taken exists\n");
  run_clear (&run);
}

static void
test_hearthctl_usage (Fixture *f, gconstpointer data)
{
  Run run;

  if (!have_hearthctl ())
    return;

  /* Not listening: unreachable, and it says where it looked. */
  run_hearthctl (f, &run, FALSE, "status", NULL);
  g_assert_cmpint (run.status, ==, 69);
  g_assert_nonnull (strstr (run.err, f->path));
  g_assert_nonnull (strstr (run.err, "--state-dir"));
  run_clear (&run);

  fixture_listen (f);
  run_hearthctl (f, &run, FALSE, "pair", "--household", "Home", "--ttl", "25h",
                 NULL);
  g_assert_cmpint (run.status, ==, 65);
  run_clear (&run);
  run_hearthctl (f, &run, FALSE, "camera", "add", "rtsp://192.168.1.20/", NULL);
  g_assert_cmpint (run.status, ==, 65);
  run_clear (&run);
  run_hearthctl (f, &run, FALSE, "frobnicate", NULL);
  g_assert_cmpint (run.status, ==, 65);
  run_clear (&run);
  /* None of them reached the daemon. */
  g_assert_cmpuint (f->methods->len, ==, 0);

  run_hearthctl (f, &run, FALSE, "--help", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (strstr (run.out, "household add NAME"));
  g_assert_nonnull (strstr (run.out, "audit [--since DURATION]"));
  g_assert_nonnull (strstr (run.out, "STATE_DIR/hearthd.sock"));
  g_assert_nonnull (strstr (run.out, "$HEARTH_SOCKET"));
  g_assert_nonnull (strstr (run.out, "/run/hearth/hearthd.sock"));
  run_clear (&run);
}

static void
test_peer_denied (Fixture *f, gconstpointer data)
{
  Run run;

  if (!have_hearthctl ())
    return;
  if (geteuid () != 0) {
    g_test_skip ("needs root to run a client as another user");
    return;
  }
  if (getgrnam ("hearth") != NULL) {
    g_test_skip ("a hearth group exists: nobody might be in it");
    return;
  }
  fixture_listen (f);
  /* Open the file modes wide: SO_PEERCRED must still refuse. */
  g_assert_cmpint (g_chmod (f->base.state_dir, 0755), ==, 0);
  g_assert_cmpint (g_chmod (f->path, 0666), ==, 0);

  run_hearthctl (f, &run, TRUE, "status", NULL);
  if (run.status == 69) {
    /* nobody cannot reach the build dir or the socket: nothing to test. */
    g_test_skip ("user nobody cannot run hearthctl here");
    run_clear (&run);
    return;
  }
  g_assert_cmpint (run.status, ==, 1);
  g_assert_cmpstr (run.err, ==, "hearthctl: permission denied: not root, not "
                   "hearthd's user and not in group hearth\n");
  g_assert_cmpuint (f->methods->len, ==, 0);
  run_clear (&run);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/hearth/control/" path, Fixture, NULL, fixture_set_up, func, \
              fixture_tear_down)
  ADD ("round-trip", test_round_trip);
  ADD ("params", test_params);
  ADD ("malformed", test_malformed);
  ADD ("events", test_events);
  ADD ("async-reply", test_async_reply);
  ADD ("connection-limit", test_connection_limit);
  ADD ("socket-mode", test_socket_mode);
  ADD ("stale-file", test_stale_file);
  ADD ("stale-socket", test_stale_socket);
  ADD ("live-socket-exists", test_live_socket_exists);
  ADD ("peer-closed", test_peer_closed);
  ADD ("idle-timeout", test_idle_timeout);
  ADD ("close-ends-requests", test_close_ends_requests);
  ADD ("peer-denied", test_peer_denied);
  ADD ("hearthctl/camera-add", test_hearthctl_camera_add);
  ADD ("hearthctl/pair-print-payload", test_hearthctl_pair_print_payload);
  ADD ("hearthctl/pair-events", test_hearthctl_pair_events);
  ADD ("hearthctl/output", test_hearthctl_output);
  ADD ("hearthctl/usage", test_hearthctl_usage);
#undef ADD

  return g_test_run ();
}
