/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hearthctl: the admin CLI. It connects to hearthd's admin socket (see
 * gateway/control.h), sends one request line, prints the reply for people
 * (or raw with --json) and, for `pair`, waits on the same connection for the
 * event that says a display paired or the window expired. `restore` runs
 * hearthd --restore (hearthctl never opens the database).
 *
 * Exit status: 0 on success, 1 when hearthd answers with an error (or a
 * pairing window expires), 65 (EX_DATAERR) for invalid usage of hearthctl
 * itself, 69 (EX_UNAVAILABLE) when the socket cannot be reached.
 */
#define G_LOG_DOMAIN "hearthctl"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "build-tree.h"
#include "config.h"
#include "control.h"
#include "error.h"
#include "hearth-config.h"
#include "qr.h"

#define DEFAULT_SOCKET "/run/hearth/hearthd.sock"
#define SOCKET_NAME "hearthd.sock"
#define REPLY_TIMEOUT_S 30
#define EXIT_FAILED 1
#define QR_PNG_SCALE 8
#define DEFAULT_PAIR_TTL_S (10 * 60)
#define MAX_PAIR_TTL_S (24 * 60 * 60)
#define DEFAULT_AUDIT_SINCE_S (24 * 60 * 60)

#define COMMANDS_HELP \
  "Commands:\n" \
  "  household add NAME                     Create a household\n" \
  "  household list                         List households\n" \
  "  household delete NAME                  Delete a household\n" \
  "  camera add --household H --name N URL  Add a camera (rtsp:// or\n" \
  "                                         rtsps://); prints only its id\n" \
  "  camera list [--discovered]             List cameras (--discovered: the\n" \
  "                                         ones found on the LAN by mDNS)\n" \
  "  camera adopt ID --household H [--name N] [--user U --password-file F]\n" \
  "                                         Adopt a discovered camera (or a\n" \
  "                                         quarantined one again, by its id)\n" \
  "  camera remove ID, camera forget ID     Remove a camera and all cached\n" \
  "                                         for it\n" \
  "  camera stats ID                        Bitrate, frame rate, keyframe\n" \
  "                                         interval, displays and drops\n" \
  "  camera move ID --household H [--name N]\n" \
  "                                         Move a camera to another household\n" \
  "                                         (--name: under a new name; in its\n" \
  "                                         own household, a rename)\n" \
  "  display list [--household H]           List paired displays\n" \
  "  display revoke ID                      Revoke a display\n" \
  "  pair --household H [--ttl DURATION] [--png FILE] [--svg FILE]\n" \
  "       [--print-payload] [--display-name-only]\n" \
  "                                         Open a pairing window, show its\n" \
  "                                         QR code and one-time code, wait\n" \
  "                                         for a display\n" \
  "  status                                 Show the gateway's status\n" \
  "  audit [--since DURATION]               Show audit events (default:\n" \
  "                                         the last 24h)\n" \
  "  backup FILE                            Write a consistent copy of the\n" \
  "                                         database and keys to FILE (0600)\n" \
  "  restore FILE                           Restore a backup into an empty\n" \
  "                                         state directory (hearthd stopped;\n" \
  "                                         --state-dir, default\n" \
  "                                         " HEARTH_DEFAULT_STATE_DIR ")\n" \
  "\n" \
  "A DURATION is a number with s, m, h or d: 90s, 10m, 1h.\n" \
  "The socket is STATE_DIR/hearthd.sock with --state-dir, else\n" \
  "$HEARTH_SOCKET, else " DEFAULT_SOCKET ";\n" \
  "--socket PATH overrides them all.\n" \
  "Run 'hearthctl COMMAND --help' for the options of a command.\n" \
  "\n" \
  "Exit status: 0 on success, 1 when hearthd reports an error, 65 for\n" \
  "invalid usage, 69 when hearthd cannot be reached."

/* Options; the global ones are accepted before and after the command. */
typedef struct {
  char *socket_path;
  char *state_dir;
  gboolean json;

  char *household;
  char *name;
  char *ttl;
  char *png;
  char *svg;
  gboolean print_payload;
  gboolean display_name_only;
  char *since;
  gboolean discovered;
  char *user;
  char *password_file;

  char *resolved_socket;
  GSocketConnection *connection;
  GDataInputStream *input;
} Ctl;

static void
ctl_clear (Ctl *ctl)
{
  g_free (ctl->socket_path);
  g_free (ctl->state_dir);
  g_free (ctl->household);
  g_free (ctl->name);
  g_free (ctl->ttl);
  g_free (ctl->png);
  g_free (ctl->svg);
  g_free (ctl->since);
  g_free (ctl->user);
  g_free (ctl->password_file);
  g_free (ctl->resolved_socket);
  g_clear_object (&ctl->input);
  if (ctl->connection != NULL)
    g_io_stream_close (G_IO_STREAM (ctl->connection), NULL, NULL);
  g_clear_object (&ctl->connection);
}

static int
usage_error (const char *format, ...) G_GNUC_PRINTF (1, 2);

static int
usage_error (const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "hearthctl: %s\nTry 'hearthctl --help'.\n", message);
  return EX_DATAERR;
}

static int
fail (const char *message)
{
  fprintf (stderr, "hearthctl: %s\n", message);
  return EXIT_FAILED;
}

/* "a, b or c" */
static char *
join_choices (const char *const *choices)
{
  g_autoptr (GString) out = g_string_new (NULL);

  for (guint i = 0; choices[i] != NULL; i++)
    g_string_append_printf (out, "%s%s", i == 0 ? "" : choices[i + 1] == NULL ? " or " : ", ",
                            choices[i]);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* A command's action is missing or unknown: say every one it has. */
static int
action_error (const char *command, const char *const *actions, const char *verb)
{
  g_autofree char *choices = join_choices (actions);

  if (verb == NULL)
    return usage_error ("%s: say %s", command, choices);
  return usage_error ("%s: unknown action '%s' (say %s)", command, verb, choices);
}

static const char *const household_actions[] = { "add", "list", "delete", NULL };
static const char *const camera_actions[] = {
  "add", "list", "adopt", "stats", "remove", "forget", "move", NULL
};
static const char *const display_actions[] = { "list", "revoke", NULL };

/* "90s", "10m", "1h", "2d", or plain seconds. */
static gboolean
parse_duration (const char *text, gint64 *seconds)
{
  g_autofree char *number = NULL;
  guint64 value;
  gint64 unit = 1;
  gsize len;

  if (text == NULL || text[0] == '\0')
    return FALSE;
  len = strlen (text);
  switch (text[len - 1]) {
    case 's': unit = 1; len--; break;
    case 'm': unit = 60; len--; break;
    case 'h': unit = 60 * 60; len--; break;
    case 'd': unit = 24 * 60 * 60; len--; break;
    default: break;
  }
  number = g_strndup (text, len);
  if (!g_ascii_string_to_unsigned (number, 10, 1, G_MAXINT32, &value, NULL))
    return FALSE;
  *seconds = (gint64) value * unit;
  return TRUE;
}

static const char *
resolve_socket (Ctl *ctl)
{
  const char *env;

  if (ctl->resolved_socket != NULL)
    return ctl->resolved_socket;
  if (ctl->socket_path != NULL)
    ctl->resolved_socket = g_strdup (ctl->socket_path);
  else if (ctl->state_dir != NULL)
    ctl->resolved_socket = g_build_filename (ctl->state_dir, SOCKET_NAME, NULL);
  else if ((env = g_getenv ("HEARTH_SOCKET")) != NULL && env[0] != '\0')
    ctl->resolved_socket = g_strdup (env);
  else
    ctl->resolved_socket = g_strdup (DEFAULT_SOCKET);
  return ctl->resolved_socket;
}

static int
ctl_connect (Ctl *ctl)
{
  const char *path = resolve_socket (ctl);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr (GError) error = NULL;

  ctl->connection = g_socket_client_connect (client,
                                             G_SOCKET_CONNECTABLE (address),
                                             NULL, &error);
  if (ctl->connection == NULL) {
    fprintf (stderr,
             "hearthctl: cannot reach hearthd at %s: %s\n"
             "Is hearthd running? Point hearthctl at its socket with "
             "--state-dir DIR or --socket PATH.\n",
             path, error->message);
    return EX_UNAVAILABLE;
  }
  g_socket_set_timeout (g_socket_connection_get_socket (ctl->connection),
                        REPLY_TIMEOUT_S);
  ctl->input = g_data_input_stream_new (
      g_io_stream_get_input_stream (G_IO_STREAM (ctl->connection)));
  g_data_input_stream_set_newline_type (ctl->input,
                                        G_DATA_STREAM_NEWLINE_TYPE_LF);
  return 0;
}

/* The next line from hearthd as a JSON object; NULL with @error unset at
 * the end of the stream. */
static JsonObject *
read_message (Ctl *ctl, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local_error = NULL;
  g_autofree char *line = NULL;
  JsonNode *root;
  gsize len = 0;

  line = g_data_input_stream_read_line_utf8 (ctl->input, &len, NULL,
                                             &local_error);
  if (line == NULL) {
    if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                   "no answer from hearthd within %d s", REPLY_TIMEOUT_S);
    else if (local_error != NULL)
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                   "lost the connection to hearthd: %s", local_error->message);
    return NULL;
  }
  if (!json_parser_load_from_data (parser, line, (gssize) len, &local_error) ||
      (root = json_parser_get_root (parser)) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                         "hearthd sent something that is not a JSON object");
    return NULL;
  }
  return json_object_ref (json_node_get_object (root));
}

/* The message of an {"error": {...}} line, or NULL. */
static const char *
message_error (JsonObject *message)
{
  JsonObject *error;
  const char *text;

  if (!json_object_has_member (message, "error"))
    return NULL;
  error = json_object_get_object_member (message, "error");
  text = error != NULL ? json_object_get_string_member_with_default (error,
                                                                     "message",
                                                                     NULL)
                       : NULL;
  return text != NULL ? text : "hearthd reported an error without a message";
}

/* Sends one request (takes @params) and reads its reply: on success
 * *result is the "result" node. Returns the exit status. */
static int
ctl_call (Ctl *ctl, const char *method, JsonObject *params, JsonNode **result)
{
  g_autoptr (JsonObject) owned_params = params;
  g_autoptr (JsonObject) request = json_object_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonObject) reply = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;
  const char *error_message;
  GOutputStream *output;
  int status;

  status = ctl_connect (ctl);
  if (status != 0)
    return status;

  json_object_set_string_member (request, "method", method);
  json_object_set_object_member (request, "params",
                                 g_steal_pointer (&owned_params));
  root = json_node_init_object (json_node_alloc (), request);
  text = json_to_string (root, FALSE);
  line = g_strconcat (text, "\n", NULL);

  output = g_io_stream_get_output_stream (G_IO_STREAM (ctl->connection));
  if (!g_output_stream_write_all (output, line, strlen (line), NULL, NULL,
                                  &error)) {
    g_autofree char *message =
        g_strdup_printf ("cannot send the request to hearthd: %s",
                         error->message);

    /* hearthd may have said why it hung up (refused, too many clients). */
    reply = read_message (ctl, NULL);
    if (reply != NULL && message_error (reply) != NULL)
      return fail (message_error (reply));
    return fail (message);
  }

  reply = read_message (ctl, &error);
  if (reply == NULL && error != NULL)
    return fail (error->message);
  if (reply == NULL)
    return fail ("hearthd closed the connection without an answer");

  error_message = message_error (reply);
  if (error_message != NULL)
    return fail (error_message);
  if (!json_object_has_member (reply, "result"))
    return fail ("hearthd sent an answer without a result");

  *result = json_node_copy (json_object_get_member (reply, "result"));
  return 0;
}

static void
print_json (JsonNode *node)
{
  g_autofree char *text = json_to_string (node, FALSE);

  printf ("%s\n", text);
}

/* A value as a table cell or a "key: value" value. */
static char *
format_value (JsonNode *node)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return g_strdup ("-");
  if (JSON_NODE_HOLDS_ARRAY (node)) {
    JsonArray *array = json_node_get_array (node);
    g_autoptr (GString) out = g_string_new (NULL);

    for (guint i = 0; i < json_array_get_length (array); i++) {
      g_autofree char *item = format_value (json_array_get_element (array, i));

      if (i > 0)
        g_string_append (out, ", ");
      g_string_append (out, item);
    }
    return g_string_free (g_steal_pointer (&out), FALSE);
  }
  if (JSON_NODE_HOLDS_OBJECT (node))
    return json_to_string (node, FALSE);

  switch (json_node_get_value_type (node)) {
    case G_TYPE_STRING:
      return g_strdup (json_node_get_string (node));
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
    case G_TYPE_DOUBLE:
      return g_strdup_printf ("%g", json_node_get_double (node));
    case G_TYPE_BOOLEAN:
      return g_strdup (json_node_get_boolean (node) ? "yes" : "no");
    default:
      return json_to_string (node, FALSE);
  }
}

/* Local time of a Unix time in seconds (or microseconds, if that large). */
static char *
format_time (gint64 when)
{
  g_autoptr (GDateTime) time = NULL;

  if (when > G_GINT64_CONSTANT (100000000000))
    when /= G_USEC_PER_SEC;
  time = g_date_time_new_from_unix_local (when);
  if (time == NULL)
    return g_strdup_printf ("%" G_GINT64_FORMAT, when);
  return g_date_time_format (time, "%Y-%m-%d %H:%M:%S");
}

typedef char *(*CellFunc) (JsonObject *row, const char *key);

typedef struct {
  const char *header;
  const char *key;
  CellFunc cell;   /* NULL: format_value of row[key] */
} Column;

/* A count: a number as is, a list by its length. */
static char *
cell_count (JsonObject *row, const char *key)
{
  JsonNode *node = json_object_get_member (row, key);

  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    return g_strdup_printf ("%u",
                            json_array_get_length (json_node_get_array (node)));
  return format_value (node);
}

static char *
cell_paired (JsonObject *row, const char *key)
{
  JsonNode *node = json_object_get_member (row, key);

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_INT64)
    return format_time (json_node_get_int (node));
  return format_value (node);
}

/* "revoked" is a flag. */
static char *
cell_status (JsonObject *row, const char *key)
{
  return g_strdup (json_object_get_boolean_member_with_default (row, key, FALSE)
                       ? "revoked" : "active");
}

/* The rows of a list reply: its @member array. */
static JsonArray *
result_rows (JsonNode *result, const char *member)
{
  JsonObject *object;
  JsonNode *node;

  if (!JSON_NODE_HOLDS_OBJECT (result))
    return NULL;
  object = json_node_get_object (result);
  node = json_object_get_member (object, member);
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    return json_node_get_array (node);
  return NULL;
}

static int
print_table (JsonNode *result, const char *member, const Column *columns,
             guint n_columns)
{
  JsonArray *rows = result_rows (result, member);
  g_autoptr (GPtrArray) cells = g_ptr_array_new_with_free_func (g_free);
  g_autofree glong *widths = g_new0 (glong, n_columns);
  guint n_rows;

  if (rows == NULL)
    return fail ("hearthd sent a list in an unexpected form");

  n_rows = json_array_get_length (rows);
  for (guint c = 0; c < n_columns; c++) {
    g_ptr_array_add (cells, g_strdup (columns[c].header));
    widths[c] = g_utf8_strlen (columns[c].header, -1);
  }
  for (guint r = 0; r < n_rows; r++) {
    JsonNode *node = json_array_get_element (rows, r);
    JsonObject *row = JSON_NODE_HOLDS_OBJECT (node)
                          ? json_node_get_object (node)
                          : NULL;

    for (guint c = 0; c < n_columns; c++) {
      char *cell;

      if (row == NULL)
        cell = g_strdup ("-");
      else if (columns[c].cell != NULL)
        cell = columns[c].cell (row, columns[c].key);
      else
        cell = format_value (json_object_get_member (row, columns[c].key));
      widths[c] = MAX (widths[c], g_utf8_strlen (cell, -1));
      g_ptr_array_add (cells, cell);
    }
  }

  for (guint r = 0; r <= n_rows; r++) {
    g_autoptr (GString) line = g_string_new (NULL);

    for (guint c = 0; c < n_columns; c++) {
      const char *cell = g_ptr_array_index (cells, r * n_columns + c);

      g_string_append (line, cell);
      if (c + 1 < n_columns) {
        for (glong pad = g_utf8_strlen (cell, -1); pad < widths[c] + 2; pad++)
          g_string_append_c (line, ' ');
      }
    }
    printf ("%s\n", line->str);
  }
  return 0;
}

/* Parses a command's own options; on return (*argv)[1..] are its
 * arguments. */
static int
parse_command (Ctl *ctl, const char *command, const char *parameters,
               const char *summary, const GOptionEntry *entries,
               char ***argv)
{
  const GOptionEntry global_entries[] = {
    { "socket", 0, 0, G_OPTION_ARG_FILENAME, &ctl->socket_path,
      "hearthd's admin socket", "PATH" },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &ctl->state_dir,
      "hearthd's state directory (the socket is DIR/hearthd.sock)", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &ctl->json,
      "Print the raw JSON result", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("hearthctl %s", command);
  g_autofree char *parameter_string = NULL;
  char *old_socket = ctl->socket_path;
  char *old_state_dir = ctl->state_dir;

  parameter_string = parameters != NULL
                         ? g_strdup_printf ("%s %s", command, parameters)
                         : g_strdup (command);
  context = g_option_context_new (parameter_string);
  g_option_context_set_summary (context, summary);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, global_entries, NULL);
  g_free ((*argv)[0]);
  (*argv)[0] = g_steal_pointer (&prgname);
  if (!g_option_context_parse_strv (context, argv, &error))
    return usage_error ("%s", error->message);
  /* Given before and after the command: the later one wins. */
  if (ctl->socket_path != old_socket)
    g_free (old_socket);
  if (ctl->state_dir != old_state_dir)
    g_free (old_state_dir);
  return 0;
}

static int
cmd_household (Ctl *ctl, char **argv)
{
  g_autoptr (JsonNode) result = NULL;
  const char *verb;
  int status;

  status = parse_command (ctl, "household", "add NAME|list|delete NAME",
                          "Create, list and delete households.", NULL, &argv);
  if (status != 0)
    return status;
  verb = argv[1];
  if (verb == NULL)
    return action_error ("household", household_actions, NULL);

  if (g_str_equal (verb, "add") || g_str_equal (verb, "delete")) {
    gboolean add = g_str_equal (verb, "add");
    JsonObject *params;

    if (argv[2] == NULL || argv[3] != NULL)
      return usage_error ("household %s takes one NAME", verb);
    params = json_object_new ();
    json_object_set_string_member (params, "name", argv[2]);
    status = ctl_call (ctl, add ? "household.add" : "household.delete", params,
                       &result);
    if (status != 0)
      return status;
    if (ctl->json)
      print_json (result);
    else
      printf ("household %s %s\n", argv[2], add ? "added" : "deleted");
    return 0;
  }
  if (g_str_equal (verb, "list")) {
    const Column columns[] = {
      { "NAME", "name", NULL },
      { "CAMERAS", "cameras", cell_count },
      { "DISPLAYS", "displays", cell_count },
    };

    if (argv[2] != NULL)
      return usage_error ("household list takes no arguments");
    status = ctl_call (ctl, "household.list", json_object_new (), &result);
    if (status != 0)
      return status;
    if (ctl->json) {
      print_json (result);
      return 0;
    }
    return print_table (result, "households", columns, G_N_ELEMENTS (columns));
  }
  return action_error ("household", household_actions, verb);
}

static void print_status_object (JsonObject *object, const char *prefix);

/* Prints the camera id hearthd answered with: only the id on stdout, so that
 * scripts can take it (or the JSON with --json). NULL, said, if there is none. */
static const char *
print_camera_id (Ctl *ctl, JsonNode *result, const char *done)
{
  const char *id = JSON_NODE_HOLDS_OBJECT (result)
                       ? json_object_get_string_member_with_default (
                             json_node_get_object (result), "id", NULL)
                       : NULL;

  if (id == NULL) {
    fprintf (stderr, "hearthctl: hearthd %s the camera but sent no id\n", done);
    return NULL;
  }
  if (ctl->json)
    print_json (result);
  else
    printf ("%s\n", id);
  return id;
}

static int
cmd_camera (Ctl *ctl, char **argv)
{
  const GOptionEntry entries[] = {
    { "household", 0, 0, G_OPTION_ARG_STRING, &ctl->household,
      "The household the camera joins (camera add, camera move)", "NAME" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &ctl->name,
      "The camera's name (camera add, camera adopt, camera move)", "NAME" },
    { "discovered", 0, 0, G_OPTION_ARG_NONE, &ctl->discovered,
      "List cameras found on the LAN by mDNS (camera list)", NULL },
    { "user", 0, 0, G_OPTION_ARG_STRING, &ctl->user,
      "The camera's user name (camera adopt)", "USER" },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &ctl->password_file,
      "A file holding the camera's password (camera adopt)", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (JsonNode) result = NULL;
  const char *verb;
  int status;

  status = parse_command (ctl, "camera",
                          "add --household H --name N URL|list [--discovered]|"
                          "adopt ID --household H|stats ID|remove ID|forget ID|"
                          "move ID --household H [--name N]",
                          "Add, discover, adopt, list, remove and move cameras.",
                          entries, &argv);
  if (status != 0)
    return status;
  verb = argv[1];
  if (verb == NULL)
    return action_error ("camera", camera_actions, NULL);

  if (g_str_equal (verb, "add")) {
    JsonObject *params;
    const char *id;

    if (ctl->household == NULL || ctl->name == NULL)
      return usage_error ("camera add needs --household and --name");
    if (argv[2] == NULL || argv[3] != NULL)
      return usage_error ("camera add takes one URL");
    params = json_object_new ();
    json_object_set_string_member (params, "household", ctl->household);
    json_object_set_string_member (params, "name", ctl->name);
    json_object_set_string_member (params, "url", argv[2]);
    status = ctl_call (ctl, "camera.add", params, &result);
    if (status != 0)
      return status;
    id = print_camera_id (ctl, result, "added");
    if (id != NULL && !ctl->json)
      fprintf (stderr, "camera %s added to household %s\n", ctl->name, ctl->household);
    return id != NULL ? 0 : EXIT_FAILED;
  }
  if (g_str_equal (verb, "list")) {
    const Column columns[] = {
      { "ID", "id", NULL },
      { "HOUSEHOLD", "household", NULL },
      { "NAME", "name", NULL },
      { "STATE", "state", NULL },
      { "URL", "url", NULL },
      { "REASON", "reason", NULL },
    };

    const Column discovered_columns[] = {
      { "ID", "id", NULL },
      { "NAME", "name", NULL },
      { "MAKER", "maker", NULL },
      { "MODEL", "model", NULL },
      { "ADDRESS", "address", NULL },
      { "PLUGIN", "plugin", NULL },
      { "STATE", "state", NULL },
      { "CAMERA", "camera", NULL },
    };
    JsonObject *params = json_object_new ();

    if (argv[2] != NULL) {
      json_object_unref (params);
      return usage_error ("camera list takes no arguments");
    }
    if (ctl->discovered)
      json_object_set_int_member (params, "discovered", 1);
    status = ctl_call (ctl, "camera.list", params, &result);
    if (status != 0)
      return status;
    if (ctl->json) {
      print_json (result);
      return 0;
    }
    if (ctl->discovered) {
      JsonObject *object = JSON_NODE_HOLDS_OBJECT (result)
                               ? json_node_get_object (result) : NULL;
      const char *discovery = object ? json_object_get_string_member_with_default (
                                           object, "discovery", NULL) : NULL;

      if (discovery != NULL && !g_str_equal (discovery, "running"))
        fprintf (stderr, "mDNS discovery: %s\n", discovery);
      return print_table (result, "cameras", discovered_columns,
                          G_N_ELEMENTS (discovered_columns));
    }
    return print_table (result, "cameras", columns, G_N_ELEMENTS (columns));
  }
  if (g_str_equal (verb, "adopt")) {
    JsonObject *params;
    g_autofree char *password = NULL;
    gsize length = 0;
    g_autoptr (GError) error = NULL;
    const char *id;

    if (argv[2] == NULL || argv[3] != NULL)
      return usage_error ("camera adopt takes one ID");
    if ((ctl->password_file != NULL) != (ctl->user != NULL))
      return usage_error ("camera adopt: give --user and --password-file together");
    if (ctl->password_file != NULL) {
      GStatBuf st;

      if (!g_file_get_contents (ctl->password_file, &password, &length, &error))
        return fail (error->message);
      if (g_stat (ctl->password_file, &st) == 0 && (st.st_mode & 077) != 0)
        fprintf (stderr, "hearthctl: warning: %s can be read by others than its owner\n",
                 ctl->password_file);
      /* One line: the password, without its line end. */
      password[strcspn (password, "\r\n")] = '\0';
      if (password[0] == '\0') {
        explicit_bzero (password, length);
        return fail ("the password file is empty");
      }
    }
    params = json_object_new ();
    json_object_set_string_member (params, "id", argv[2]);
    if (ctl->household != NULL)
      json_object_set_string_member (params, "household", ctl->household);
    if (ctl->name != NULL)
      json_object_set_string_member (params, "name", ctl->name);
    if (ctl->user != NULL)
      json_object_set_string_member (params, "user", ctl->user);
    if (password != NULL) {
      json_object_set_string_member (params, "password", password);
      explicit_bzero (password, length);  /* the whole file, line end and all */
    }
    status = ctl_call (ctl, "camera.adopt", params, &result);
    if (status != 0)
      return status;
    id = print_camera_id (ctl, result, "adopted");
    if (id != NULL && !ctl->json)
      fprintf (stderr, "camera %s adopted\n", id);
    return id != NULL ? 0 : EXIT_FAILED;
  }
  if (g_str_equal (verb, "remove") || g_str_equal (verb, "forget")) {
    JsonObject *params;

    if (argv[2] == NULL || argv[3] != NULL)
      return usage_error ("camera %s takes one ID", verb);
    params = json_object_new ();
    json_object_set_string_member (params, "id", argv[2]);
    status = ctl_call (ctl, "camera.remove", params, &result);
    if (status != 0)
      return status;
    if (ctl->json)
      print_json (result);
    else
      printf ("camera %s removed\n", argv[2]);
    return 0;
  }
  if (g_str_equal (verb, "stats")) {
    JsonObject *params;

    if (argv[2] == NULL || argv[3] != NULL)
      return usage_error ("camera stats takes one ID");
    params = json_object_new ();
    json_object_set_string_member (params, "id", argv[2]);
    status = ctl_call (ctl, "camera.stats", params, &result);
    if (status != 0)
      return status;
    if (ctl->json || !JSON_NODE_HOLDS_OBJECT (result))
      print_json (result);
    else
      print_status_object (json_node_get_object (result), NULL);
    return 0;
  }
  if (g_str_equal (verb, "move")) {
    JsonObject *params;

    if (ctl->household == NULL || argv[2] == NULL || argv[3] != NULL)
      return usage_error ("camera move takes one ID and --household");
    params = json_object_new ();
    json_object_set_string_member (params, "id", argv[2]);
    json_object_set_string_member (params, "household", ctl->household);
    if (ctl->name != NULL)
      json_object_set_string_member (params, "name", ctl->name);
    status = ctl_call (ctl, "camera.move", params, &result);
    if (status != 0)
      return status;
    if (ctl->json)
      print_json (result);
    else
      printf ("camera %s moved to household %s\n", argv[2], ctl->household);
    return 0;
  }
  return action_error ("camera", camera_actions, verb);
}

static int
cmd_display (Ctl *ctl, char **argv)
{
  const GOptionEntry entries[] = {
    { "household", 0, 0, G_OPTION_ARG_STRING, &ctl->household,
      "Only this household's displays (display list)", "NAME" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (JsonNode) result = NULL;
  const char *verb;
  int status;

  status = parse_command (ctl, "display", "list [--household H]|revoke ID",
                          "List and revoke paired displays.", entries, &argv);
  if (status != 0)
    return status;
  verb = argv[1];
  if (verb == NULL)
    return action_error ("display", display_actions, NULL);

  if (g_str_equal (verb, "list")) {
    const Column columns[] = {
      { "ID", "id", NULL },
      { "HOUSEHOLD", "household", NULL },
      { "NAME", "name", NULL },
      { "PAIRED", "paired_at", cell_paired },
      { "STATUS", "revoked", cell_status },
    };
    JsonObject *params = json_object_new ();

    if (argv[2] != NULL) {
      json_object_unref (params);
      return usage_error ("display list takes no arguments");
    }
    if (ctl->household != NULL)
      json_object_set_string_member (params, "household", ctl->household);
    status = ctl_call (ctl, "display.list", params, &result);
    if (status != 0)
      return status;
    if (ctl->json) {
      print_json (result);
      return 0;
    }
    return print_table (result, "displays", columns, G_N_ELEMENTS (columns));
  }
  if (g_str_equal (verb, "revoke")) {
    JsonObject *params;
    guint64 id;

    if (argv[2] == NULL || argv[3] != NULL)
      return usage_error ("display revoke takes one ID");
    if (!g_ascii_string_to_unsigned (argv[2], 10, 1, G_MAXINT64, &id, NULL))
      return usage_error ("display revoke: '%s' is not a display id", argv[2]);
    params = json_object_new ();
    json_object_set_int_member (params, "id", (gint64) id);
    status = ctl_call (ctl, "display.revoke", params, &result);
    if (status != 0)
      return status;
    if (ctl->json)
      print_json (result);
    else
      printf ("display %s revoked\n", argv[2]);
    return 0;
  }
  return action_error ("display", display_actions, verb);
}

/* Reads events until the window ends; returns the exit status. */
static int
pair_wait (Ctl *ctl, FILE *out)
{
  /* Pairing takes as long as a person takes: no timeout now. */
  g_socket_set_timeout (g_socket_connection_get_socket (ctl->connection), 0);

  for (;;) {
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonObject) message = read_message (ctl, &error);
    const char *error_message;
    JsonObject *event;
    const char *type;

    if (message == NULL && error != NULL)
      return fail (error->message);
    if (message == NULL)
      return fail ("hearthd closed the connection before a display paired");
    error_message = message_error (message);
    if (error_message != NULL)
      return fail (error_message);
    if (!json_object_has_member (message, "event") ||
        (event = json_object_get_object_member (message, "event")) == NULL)
      continue;

    if (ctl->json) {
      JsonNode *node = json_object_get_member (message, "event");

      print_json (node);
    }
    type = json_object_get_string_member_with_default (event, "type", "");
    if (g_str_equal (type, "paired")) {
      const char *name = json_object_get_string_member_with_default (
          event, "display_name", "");
      gint64 id = json_object_get_int_member_with_default (event, "display_id",
                                                           0);

      if (ctl->json)
        return 0;
      if (ctl->display_name_only)
        printf ("%s\n", name);
      else
        fprintf (out, "paired display %" G_GINT64_FORMAT " (%s)\n", id, name);
      return 0;
    }
    if (g_str_equal (type, "expired")) {
      if (!ctl->json)
        fprintf (stderr, "pairing window expired\n");
      return EXIT_FAILED;
    }
    /* Other events are for newer hearthctls: skip them. */
  }
}

static int
cmd_pair (Ctl *ctl, char **argv)
{
  const GOptionEntry entries[] = {
    { "household", 0, 0, G_OPTION_ARG_STRING, &ctl->household,
      "The household the display joins", "NAME" },
    { "ttl", 0, 0, G_OPTION_ARG_STRING, &ctl->ttl,
      "How long the window stays open, 1s to 24h (default: 10m)", "DURATION" },
    { "png", 0, 0, G_OPTION_ARG_FILENAME, &ctl->png,
      "Also write the QR code as a PNG image", "FILE" },
    { "svg", 0, 0, G_OPTION_ARG_FILENAME, &ctl->svg,
      "Also write the QR code as an SVG image", "FILE" },
    { "print-payload", 0, 0, G_OPTION_ARG_NONE, &ctl->print_payload,
      "Print only the payload and exit; the window stays open", NULL },
    { "display-name-only", 0, 0, G_OPTION_ARG_NONE, &ctl->display_name_only,
      "Print only the paired display's name on stdout (the rest on stderr)",
      NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (JsonNode) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *qr = NULL;
  g_autofree char *expiry = NULL;
  g_autofree char *code_line = NULL;
  JsonObject *params;
  JsonObject *object;
  const char *payload;
  const char *code;
  gint64 ttl = DEFAULT_PAIR_TTL_S;
  gint64 expires_at;
  gint64 window_id;
  FILE *out;
  int status;

  status = parse_command (ctl, "pair",
                          "--household H [--ttl DURATION] [--png FILE] "
                          "[--svg FILE] [--print-payload] "
                          "[--display-name-only]",
                          "Open a pairing window: a display or a phone that "
                          "scans its QR code joins the household. A phone or "
                          "a browser also needs the one-time code printed "
                          "with it.",
                          entries, &argv);
  if (status != 0)
    return status;
  if (argv[1] != NULL)
    return usage_error ("pair takes no arguments, only options");
  if (ctl->household == NULL)
    return usage_error ("pair needs --household");
  if (ctl->ttl != NULL &&
      (!parse_duration (ctl->ttl, &ttl) || ttl < 1 || ttl > MAX_PAIR_TTL_S))
    return usage_error ("pair: --ttl '%s' is not a duration from 1s to 24h",
                        ctl->ttl);

  params = json_object_new ();
  json_object_set_string_member (params, "household", ctl->household);
  json_object_set_int_member (params, "ttl_seconds", ttl);
  status = ctl_call (ctl, "pair.open", params, &result);
  if (status != 0)
    return status;

  object = JSON_NODE_HOLDS_OBJECT (result) ? json_node_get_object (result)
                                           : NULL;
  payload = object != NULL
                ? json_object_get_string_member_with_default (object, "payload",
                                                              NULL)
                : NULL;
  if (payload == NULL)
    return fail ("hearthd opened a pairing window but sent no payload");
  code = json_object_get_string_member_with_default (object, "code", "");
  expires_at = json_object_get_int_member_with_default (object, "expires_at",
                                                         0);
  window_id = json_object_get_int_member_with_default (object, "window_id", 0);

  if (ctl->png != NULL) {
    if (!hearth_qr_write_png (payload, ctl->png, QR_PNG_SCALE, &error))
      return fail (error->message);
    fprintf (stderr, "QR code written to %s\n", ctl->png);
  }
  if (ctl->svg != NULL) {
    if (!hearth_qr_write_svg (payload, ctl->svg, &error))
      return fail (error->message);
    fprintf (stderr, "QR code written to %s\n", ctl->svg);
  }

  if (ctl->json) {
    print_json (result);
    if (ctl->print_payload)
      return 0;
    fflush (stdout);
    return pair_wait (ctl, stdout);
  }
  if (ctl->print_payload) {
    printf ("%s\n", payload);
    return 0;
  }

  qr = hearth_qr_render_terminal (payload, &error);
  if (qr == NULL)
    return fail (error->message);
  expiry = format_time (expires_at);
  if (*code != '\0')
    code_line = g_strdup_printf ("Code for phones and browsers: %s\n"
                                 "(type it only into the device's certificate "
                                 "installer)\n\n", code);
  /* With --display-name-only, stdout is kept for the name. */
  out = ctl->display_name_only ? stderr : stdout;
  fprintf (out,
           "%s\n"
           "Scan this QR code with a phone or a display, or give it this link:\n"
           "%s\n\n"
           "%s"
           "Pairing window %" G_GINT64_FORMAT " for household %s is open "
           "until %s.\n"
           "Waiting for a display to pair...\n",
           qr, payload, code_line != NULL ? code_line : "", window_id,
           ctl->household, expiry);
  fflush (out);
  return pair_wait (ctl, out);
}

/* "key: value" lines; nested objects as "key.sub: value". */
static void
print_status_object (JsonObject *object, const char *prefix)
{
  g_autoptr (GList) members = json_object_get_members (object);

  for (GList *l = members; l != NULL; l = l->next) {
    const char *key = l->data;
    JsonNode *node = json_object_get_member (object, key);
    g_autofree char *name = prefix != NULL
                                ? g_strconcat (prefix, ".", key, NULL)
                                : g_strdup (key);

    if (JSON_NODE_HOLDS_OBJECT (node)) {
      print_status_object (json_node_get_object (node), name);
    } else {
      g_autofree char *value = format_value (node);

      printf ("%s: %s\n", name, value);
    }
  }
}

static int
cmd_status (Ctl *ctl, char **argv)
{
  g_autoptr (JsonNode) result = NULL;
  int status;

  status = parse_command (ctl, "status", NULL,
                          "Show the gateway's status.", NULL, &argv);
  if (status != 0)
    return status;
  if (argv[1] != NULL)
    return usage_error ("status takes no arguments");
  status = ctl_call (ctl, "status", json_object_new (), &result);
  if (status != 0)
    return status;
  if (ctl->json || !JSON_NODE_HOLDS_OBJECT (result)) {
    print_json (result);
    return 0;
  }
  print_status_object (json_node_get_object (result), NULL);
  return 0;
}

/* One audit event per line: its time, then its other fields. */
static void
print_audit_event (JsonNode *node)
{
  const char *const time_key = "time_us";
  g_autoptr (GString) line = g_string_new (NULL);
  g_autoptr (GList) members = NULL;
  char utf8_bytes[129];
  JsonObject *event;
  JsonNode *when;

  for (guint i = 0; i < 128; i++)
    utf8_bytes[i] = (char) (0x80 + i);
  utf8_bytes[128] = '\0';

  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    g_autofree char *value = format_value (node);

    printf ("%s\n", value);
    return;
  }
  event = json_node_get_object (node);
  when = json_object_get_member (event, time_key);
  if (when != NULL && JSON_NODE_HOLDS_VALUE (when) &&
      json_node_get_value_type (when) == G_TYPE_INT64) {
    g_autofree char *text = format_time (json_node_get_int (when));

    g_string_append (line, text);
  }

  members = json_object_get_members (event);
  for (GList *l = members; l != NULL; l = l->next) {
    const char *key = l->data;
    g_autofree char *value = NULL;

    if (g_strcmp0 (key, time_key) == 0)
      continue;
    value = format_value (json_object_get_member (event, key));
    if (line->len > 0)
      g_string_append_c (line, ' ');
    if (strpbrk (value, " \t\"") != NULL) {
      /* Escape quotes and control characters, keep UTF-8 readable. */
      g_autofree char *quoted = g_strescape (value, utf8_bytes);

      g_string_append_printf (line, "%s=\"%s\"", key, quoted);
    } else {
      g_string_append_printf (line, "%s=%s", key, value);
    }
  }
  printf ("%s\n", line->str);
}

static int
cmd_audit (Ctl *ctl, char **argv)
{
  const GOptionEntry entries[] = {
    { "since", 0, 0, G_OPTION_ARG_STRING, &ctl->since,
      "Show events of the last DURATION (default: 24h)", "DURATION" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (JsonNode) result = NULL;
  JsonObject *params;
  JsonArray *rows;
  gint64 since = DEFAULT_AUDIT_SINCE_S;
  int status;

  status = parse_command (ctl, "audit", "[--since DURATION]",
                          "Show audit events.", entries, &argv);
  if (status != 0)
    return status;
  if (argv[1] != NULL)
    return usage_error ("audit takes no arguments, only options");
  if (ctl->since != NULL && !parse_duration (ctl->since, &since))
    return usage_error ("audit: --since '%s' is not a duration", ctl->since);

  params = json_object_new ();
  json_object_set_int_member (params, "since_us",
                              g_get_real_time () - since * G_USEC_PER_SEC);
  status = ctl_call (ctl, "audit.list", params, &result);
  if (status != 0)
    return status;
  if (ctl->json) {
    print_json (result);
    return 0;
  }
  rows = result_rows (result, "events");
  if (rows == NULL)
    return fail ("hearthd sent the audit events in an unexpected form");
  for (guint i = 0; i < json_array_get_length (rows); i++)
    print_audit_event (json_array_get_element (rows, i));
  return 0;
}

/* Reads the "data" events of a backup into @out until "end". */
static int
backup_receive (Ctl *ctl, int fd, gint64 expected_bytes, const char *expected_sha256)
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gint64 received = 0;

  for (;;) {
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonObject) message = read_message (ctl, &error);
    JsonObject *event;
    const char *type;
    const char *data;
    g_autofree guchar *chunk = NULL;
    gsize len = 0;

    if (message == NULL && error != NULL)
      return fail (error->message);
    if (message == NULL)
      return fail ("hearthd closed the connection before the backup was complete");
    if (message_error (message) != NULL)
      return fail (message_error (message));
    if (!json_object_has_member (message, "event") ||
        (event = json_object_get_object_member (message, "event")) == NULL)
      continue;
    type = json_object_get_string_member_with_default (event, "type", "");
    if (g_str_equal (type, "end"))
      break;
    data = json_object_get_string_member_with_default (event, "data", NULL);
    if (!g_str_equal (type, "data") || data == NULL)
      return fail ("hearthd sent the backup in an unexpected form");
    chunk = g_base64_decode (data, &len);
    g_checksum_update (checksum, chunk, len);
    received += (gint64) len;
    for (gsize done = 0; done < len;) {
      ssize_t n = write (fd, chunk + done, len - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0) {
        g_autofree char *message_text = g_strdup_printf (
            "cannot write the backup: %s", g_strerror (errno));
        return fail (message_text);
      }
      done += (gsize) n;
    }
  }
  if (received != expected_bytes ||
      g_strcmp0 (g_checksum_get_string (checksum), expected_sha256) != 0)
    return fail ("the backup arrived incomplete or changed (size or SHA-256 "
                 "differ); nothing was written");
  if (fsync (fd) != 0) {
    g_autofree char *message_text = g_strdup_printf ("cannot write the backup: %s",
                                                     g_strerror (errno));
    return fail (message_text);
  }
  return 0;
}

static int
cmd_backup (Ctl *ctl, char **argv)
{
  g_autoptr (JsonNode) result = NULL;
  g_autofree char *tmp = NULL;
  JsonObject *object;
  const char *sha256;
  gint64 bytes;
  int status, fd;

  status = parse_command (ctl, "backup", "FILE",
                          "Write a consistent copy of hearthd's database, keys "
                          "included, to FILE (mode 0600) while it runs.",
                          NULL, &argv);
  if (status != 0)
    return status;
  if (argv[1] == NULL || argv[2] != NULL)
    return usage_error ("backup takes one FILE");

  status = ctl_call (ctl, "backup", NULL, &result);
  if (status != 0)
    return status;
  object = JSON_NODE_HOLDS_OBJECT (result) ? json_node_get_object (result) : NULL;
  bytes = object ? json_object_get_int_member_with_default (object, "bytes", -1) : -1;
  sha256 = object ? json_object_get_string_member_with_default (object, "sha256", NULL)
                  : NULL;
  if (bytes < 0 || sha256 == NULL)
    return fail ("hearthd sent the backup in an unexpected form");

  /* Written beside FILE and renamed over it only once complete and checked. */
  tmp = g_strconcat (argv[1], ".XXXXXX", NULL);
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    g_autofree char *message = g_strdup_printf ("cannot create %s: %s", tmp,
                                                g_strerror (errno));
    return fail (message);
  }
  status = backup_receive (ctl, fd, bytes, sha256);
  close (fd);
  if (status == 0 && g_rename (tmp, argv[1]) != 0) {
    g_autofree char *message = g_strdup_printf ("cannot write %s: %s", argv[1],
                                                g_strerror (errno));
    status = fail (message);
  }
  if (status != 0) {
    g_unlink (tmp);
    return status;
  }
  if (ctl->json)
    print_json (result);
  else
    printf ("backup written to %s (%" G_GINT64_FORMAT " bytes)\n", argv[1], bytes);
  return 0;
}

/* The hearthd that restores: the one built beside a hearthctl run from its
 * build tree, else the installed one. */
static const char *
hearthd_path (void)
{
  return hearth_build_tree_runs (HEARTH_BUILD_HEARTHCTL) ? HEARTH_BUILD_HEARTHD
                                                        : HEARTH_SBINDIR "/hearthd";
}

/* hearthd --restore does the work (only hearthd opens the database); its
 * messages are the command's. The socket hearthctl would talk to is checked
 * here too: the daemon's may be elsewhere than STATE_DIR/hearthd.sock. */
static int
cmd_restore (Ctl *ctl, char **argv)
{
  g_autoptr (GError) error = NULL;
  const char *dir;
  int wait_status = 0;
  int status;

  status = parse_command (ctl, "restore", "FILE",
                          "Restore a backup made by 'hearthctl backup' into an "
                          "empty state directory (default " HEARTH_DEFAULT_STATE_DIR
                          ") while hearthd is stopped. Runs hearthd --restore.",
                          NULL, &argv);
  if (status != 0)
    return status;
  if (argv[1] == NULL || argv[2] != NULL)
    return usage_error ("restore takes one FILE");
  dir = ctl->state_dir != NULL ? ctl->state_dir : HEARTH_DEFAULT_STATE_DIR;

  if (hearth_control_socket_answers (resolve_socket (ctl))) {
    g_autofree char *message = g_strdup_printf (
        "hearthd is running (it answers at %s): stop it before restoring",
        resolve_socket (ctl));
    return fail (message);
  }
  {
    const char *const restore_argv[] = {
      hearthd_path (), "--state-dir", dir, "--restore", argv[1], NULL
    };

    fflush (stdout);
    if (!g_spawn_sync (NULL, (char **) restore_argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                       NULL, NULL, &wait_status, &error)) {
      fprintf (stderr, "hearthctl: cannot run %s: %s\n", restore_argv[0], error->message);
      return EX_UNAVAILABLE;
    }
  }
  return g_spawn_check_wait_status (wait_status, NULL) ? 0 : EXIT_FAILED;
}

typedef struct {
  const char *name;
  int (*run) (Ctl *ctl, char **argv);
} Command;

static const Command commands[] = {
  { "household", cmd_household },
  { "camera", cmd_camera },
  { "display", cmd_display },
  { "pair", cmd_pair },
  { "status", cmd_status },
  { "audit", cmd_audit },
  { "backup", cmd_backup },
  { "restore", cmd_restore },
};

int
main (int argc, char **argv)
{
  Ctl ctl = { 0 };
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
    { "socket", 0, 0, G_OPTION_ARG_FILENAME, &ctl.socket_path,
      "hearthd's admin socket", "PATH" },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &ctl.state_dir,
      "hearthd's state directory (the socket is DIR/hearthd.sock)", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &ctl.json,
      "Print the raw JSON result", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) args = NULL;
  g_autofree char *command_names = NULL;
  const char *names[G_N_ELEMENTS (commands) + 1] = { NULL };
  int status = -1;

  setlocale (LC_ALL, "");
  g_set_prgname ("hearthctl");

  context = g_option_context_new ("COMMAND [ARGS...]");
  g_option_context_set_summary (context,
      "Administer hearthd, the Hearth camera gateway (version " HEARTH_VERSION
      "), through its admin socket.");
  g_option_context_set_description (context, COMMANDS_HELP);
  g_option_context_add_main_entries (context, entries, NULL);
  /* Options after the command belong to the command. */
  g_option_context_set_strict_posix (context, TRUE);

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    names[i] = commands[i].name;
  command_names = join_choices (names);

  args = g_strdupv (argv);
  if (!g_option_context_parse_strv (context, &args, &error)) {
    status = usage_error ("%s", error->message);
  } else if (version) {
    printf ("hearthctl %s\n", HEARTH_VERSION);
    status = 0;
  } else if (args[1] == NULL) {
    status = usage_error ("no command given (say %s)", command_names);
  } else {
    for (guint i = 0; i < G_N_ELEMENTS (commands); i++) {
      if (g_str_equal (args[1], commands[i].name)) {
        /* The command sees itself as argv[0]. */
        g_auto (GStrv) command_args = g_strdupv (args + 1);

        status = commands[i].run (&ctl, command_args);
        break;
      }
    }
    if (status < 0)
      status = usage_error ("unknown command '%s' (say %s)", args[1], command_names);
  }

  fflush (stdout);
  ctl_clear (&ctl);
  return status;
}
