/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthConfig: reads the key file (every option has an embedded default),
 * rejects unknown keys and bad values with group/key/reason, and is never
 * changed once the daemon runs. Runtime state lives in HearthDaemon.
 */
#define G_LOG_DOMAIN "hearth-config"

#include "config.h"
#include "error.h"
#include "store.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

/* KEY_NAME: text shown to people and put in certificates, checked as the
 * store checks names (empty allowed when min is 0). */
typedef enum { KEY_STRING, KEY_NAME, KEY_UINT, KEY_UINT64, KEY_RANGES, KEY_BOOL } KeyType;

typedef struct {
  const char *group;
  const char *key;
  KeyType type;
  gsize offset;
  guint64 min, max;
} KeySpec;

#define F(field) G_STRUCT_OFFSET (HearthConfig, field)

static const KeySpec keys[] = {
  { "gateway", "name", KEY_NAME, F (name), 1, 64 },
  { "gateway", "state-dir", KEY_STRING, F (state_dir), 1, 4096 },
  { "gateway", "listen", KEY_STRING, F (listen), 1, 300 },
  { "gateway", "pairing-listen", KEY_STRING, F (pairing_listen), 1, 300 },
  { "gateway", "control-socket", KEY_STRING, F (control_socket), 1, 107 },
  { "gateway", "local-networks", KEY_RANGES, F (local_ranges), 0, 0 },
  { "pairing", "ttl-seconds", KEY_UINT, F (pairing_ttl), 1, 86400 },
  { "pairing", "max-failures-per-minute", KEY_UINT, F (pairing_max_failures), 1, 1000 },
  { "limits", "max-connections", KEY_UINT, F (max_connections), 1, 10000 },
  { "limits", "max-handshakes", KEY_UINT, F (max_handshakes), 1, 10000 },
  { "limits", "max-handshakes-per-peer", KEY_UINT, F (max_handshakes_per_peer), 1, 10000 },
  { "limits", "max-connections-per-display", KEY_UINT, F (max_connections_per_display), 1, 10000 },
  { "limits", "max-connections-per-household", KEY_UINT, F (max_connections_per_household), 1, 10000 },
  { "limits", "max-streams-per-display", KEY_UINT, F (max_streams_per_display), 1, 256 },
  { "limits", "gop-cache-bytes", KEY_UINT64, F (gop_cache_bytes), 65536, G_GUINT64_CONSTANT (1) << 30 },
  { "limits", "display-queue-bytes", KEY_UINT64, F (display_queue_bytes), 65536, G_GUINT64_CONSTANT (1) << 30 },
  { "cameras", "backoff-min-ms", KEY_UINT, F (camera_backoff_min_ms), 10, 600000 },
  { "cameras", "backoff-max-ms", KEY_UINT, F (camera_backoff_max_ms), 10, 3600000 },
  { "cameras", "plugin-dir", KEY_STRING, F (plugin_dir), 1, 4096 },
  { "discovery", "enabled", KEY_BOOL, F (discovery_enabled), 0, 0 },
  { "discovery", "auto-adopt", KEY_NAME, F (auto_adopt_household), 0, 64 },
};

#undef F

void
hearth_config_free (HearthConfig *self)
{
  if (self == NULL)
    return;
  g_free (self->name);
  g_free (self->state_dir);
  g_free (self->listen);
  g_free (self->pairing_listen);
  g_free (self->control_socket);
  g_free (self->plugin_dir);
  g_free (self->auto_adopt_household);
  hearth_net_ranges_free (self->local_ranges);
  g_free (self->source_path);
  g_free (self->source_text);
  g_free (self);
}

static HearthConfig *
config_new_defaults (void)
{
  HearthConfig *self = g_new0 (HearthConfig, 1);
  const char *host = g_get_host_name ();

  self->name = g_strdup (host && *host ? host : "Hearth");
  if (strlen (self->name) > 64)
    self->name[64] = '\0';
  self->state_dir = g_strdup (HEARTH_DEFAULT_STATE_DIR);
  self->listen = g_strdup (HEARTH_DEFAULT_LISTEN);
  self->pairing_listen = g_strdup (HEARTH_DEFAULT_PAIRING_LISTEN);
  self->local_ranges = hearth_net_ranges_parse (HEARTH_NET_DEFAULT_LOCAL_RANGES,
                                                NULL);
  self->pairing_ttl = 600;
  self->pairing_max_failures = 10;
  self->max_connections = 256;
  self->max_handshakes = 32;
  self->max_handshakes_per_peer = 8;
  self->max_connections_per_display = 32;
  self->max_connections_per_household = 64;
  self->max_streams_per_display = 8;
  self->gop_cache_bytes = 8 * 1024 * 1024;
  self->display_queue_bytes = 4 * 1024 * 1024;
  self->camera_backoff_min_ms = 500;
  self->camera_backoff_max_ms = 30000;
  self->discovery_enabled = TRUE;
  self->auto_adopt_household = g_strdup ("");
  return self;
}

static const KeySpec *
find_key (const char *group, const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (g_str_equal (keys[i].group, group) && g_str_equal (keys[i].key, key))
      return &keys[i];
  return NULL;
}

/*
 * Reads one line of the text as GKeyFile does: a "[group]" header sets
 * *@group and returns TRUE with *@key NULL; a "key = value" line inside a
 * group returns TRUE with *@key pointing into @line (cut at the '='); other
 * lines return FALSE.
 */
static gboolean
scan_line (char *line, char **group, const char **key)
{
  char *eq;

  line = g_strstrip (line);
  *key = NULL;
  if (line[0] == '[' && g_str_has_suffix (line, "]")) {
    g_free (*group);
    *group = g_strndup (line + 1, strlen (line) - 2);
    return TRUE;
  }
  if (*group == NULL || line[0] == '#' || (eq = strchr (line, '=')) == NULL)
    return FALSE;
  *eq = '\0';
  *key = g_strstrip (line);
  return TRUE;
}

/*
 * GKeyFile does not say where a group or key was: find its line in the text
 * (1-based; the last one wins, as in GKeyFile), or 0. @key NULL: the group's
 * header line.
 */
static guint
find_line (const char *text, const char *group, const char *key)
{
  g_auto (GStrv) lines = NULL;
  g_autofree char *current = NULL;
  guint found = 0;

  if (text == NULL)
    return 0;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    const char *line_key;

    if (!scan_line (lines[i], &current, &line_key) || !g_str_equal (current, group))
      continue;
    if (g_strcmp0 (line_key, key) == 0)
      found = i + 1;
  }
  return found;
}

/*
 * GKeyFile keeps the last of two lines that set one key, silently: the first
 * key set twice in a group (also across two headers of that group), as its
 * second line (1-based) with the first in *@first_line, or 0.
 */
static guint
find_duplicate_key (const char *text, char **group, char **key, guint *first_line)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                       g_free, NULL);
  g_autofree char *current = NULL;

  for (guint i = 0; lines[i] != NULL; i++) {
    const char *line_key;
    char *both;
    gpointer first;

    if (!scan_line (lines[i], &current, &line_key) || line_key == NULL)
      continue;
    both = g_strconcat (current, "\n", line_key, NULL);
    if (g_hash_table_lookup_extended (seen, both, NULL, &first)) {
      g_free (both);
      *group = g_strdup (current);
      *key = g_strdup (line_key);
      *first_line = GPOINTER_TO_UINT (first);
      return i + 1;
    }
    g_hash_table_insert (seen, both, GUINT_TO_POINTER (i + 1));
  }
  return 0;
}

/* The first line GKeyFile cannot read: not blank, a comment, a [group] or a
 * key = value inside a group. 0 when every line looks right. */
static guint
find_bad_line (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  gboolean in_group = FALSE;

  for (guint i = 0; lines[i] != NULL; i++) {
    const char *line = g_strstrip (lines[i]);

    if (line[0] == '\0' || line[0] == '#')
      continue;
    if (line[0] == '[' && g_str_has_suffix (line, "]")) {
      in_group = TRUE;
      continue;
    }
    if (!in_group || strchr (line, '=') == NULL || line[0] == '=')
      return i + 1;
  }
  return 0;
}

/* "PATH:LINE: " for @group/@key of the loaded file, "PATH: " when the line is
 * unknown, "" with no file. */
static char *
location (const HearthConfig *self, const char *group, const char *key)
{
  guint line;

  if (self->source_path == NULL)
    return g_strdup ("");
  line = find_line (self->source_text, group, key);
  if (line == 0)
    return g_strdup_printf ("%s: ", self->source_path);
  return g_strdup_printf ("%s:%u: ", self->source_path, line);
}

char *
hearth_config_get_control_socket (const HearthConfig *self)
{
  if (self->control_socket != NULL)
    return g_strdup (self->control_socket);
  return g_build_filename (self->state_dir, HEARTH_DEFAULT_SOCKET_NAME, NULL);
}

/* Prefixes @error with where @group/@key is, if the value in the file is
 * still the one in effect (a command-line override is not in the file). */
void
hearth_config_prefix_location (const HearthConfig *self, GError **error, const char *group,
                 const char *key, const char *value)
{
  g_autoptr (GKeyFile) file = NULL;
  g_autofree char *in_file = NULL;
  g_autofree char *where = NULL;

  if (self->source_text == NULL || error == NULL || *error == NULL)
    return;
  file = g_key_file_new ();
  if (!g_key_file_load_from_data (file, self->source_text, -1, G_KEY_FILE_NONE, NULL))
    return;
  in_file = g_key_file_get_string (file, group, key, NULL);
  if (in_file == NULL || (value != NULL && !g_str_equal (g_strstrip (in_file), value)))
    return;
  where = location (self, group, key);
  g_prefix_error (error, "%s", where);
}

/* "gateway, pairing, …" or the keys of one group, for "unknown" errors. */
static char *
known_names (const char *group)
{
  g_autoptr (GString) names = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++) {
    const char *name = group ? keys[i].key : keys[i].group;

    if (group != NULL && !g_str_equal (keys[i].group, group))
      continue;
    if (group == NULL && i > 0 && g_str_equal (keys[i - 1].group, name))
      continue;
    g_string_append_printf (names, "%s%s", names->len ? ", " : "", name);
  }
  return g_string_free (g_steal_pointer (&names), FALSE);
}

static gboolean
apply_key (HearthConfig *self, GKeyFile *file, const KeySpec *spec,
           GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *raw = g_key_file_get_string (file, spec->group, spec->key,
                                                &local_error);
  gpointer field = G_STRUCT_MEMBER_P (self, spec->offset);
  guint64 value;

  /* Not UTF-8, for one: never read as empty. */
  if (raw == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID, "[%s] %s: %s",
                 spec->group, spec->key, local_error->message);
    return FALSE;
  }
  g_clear_error (&local_error);
  g_strstrip (raw);

  switch (spec->type) {
    case KEY_NAME:
      if (*raw != '\0' || spec->min > 0) {
        g_autofree char *what = g_strdup_printf ("[%s] %s", spec->group, spec->key);

        if (!hearth_store_validate_text (what, raw, spec->max, error))
          return FALSE;
      }
      g_free (*(char **) field);
      *(char **) field = g_steal_pointer (&raw);
      return TRUE;
    case KEY_STRING:
      if (strlen (raw) < spec->min || strlen (raw) > spec->max ||
          !g_utf8_validate (raw, -1, NULL)) {
        g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                     "[%s] %s: must be %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
                     " bytes of UTF-8", spec->group, spec->key, spec->min, spec->max);
        return FALSE;
      }
      g_free (*(char **) field);
      *(char **) field = g_steal_pointer (&raw);
      return TRUE;
    case KEY_UINT:
    case KEY_UINT64:
      if (!g_ascii_string_to_unsigned (raw, 10, spec->min, spec->max, &value,
                                       &local_error)) {
        g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                     "[%s] %s: “%s” is not a whole number from %" G_GUINT64_FORMAT
                     " to %" G_GUINT64_FORMAT, spec->group, spec->key, raw,
                     spec->min, spec->max);
        return FALSE;
      }
      if (spec->type == KEY_UINT)
        *(guint *) field = (guint) value;
      else
        *(guint64 *) field = value;
      return TRUE;
    case KEY_RANGES: {
      HearthNetRanges *ranges = hearth_net_ranges_parse (raw, &local_error);
      if (ranges == NULL) {
        g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID, "[%s] %s: %s",
                     spec->group, spec->key, local_error->message);
        return FALSE;
      }
      hearth_net_ranges_free (*(HearthNetRanges **) field);
      *(HearthNetRanges **) field = ranges;
      return TRUE;
    }
    case KEY_BOOL:
      if (g_ascii_strcasecmp (raw, "true") == 0 || g_ascii_strcasecmp (raw, "yes") == 0)
        *(gboolean *) field = TRUE;
      else if (g_ascii_strcasecmp (raw, "false") == 0 || g_ascii_strcasecmp (raw, "no") == 0)
        *(gboolean *) field = FALSE;
      else {
        g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                     "[%s] %s: “%s” is not true or false", spec->group, spec->key, raw);
        return FALSE;
      }
      return TRUE;
    default:
      g_assert_not_reached ();
  }
}

/*
 * Directory @path (the value of @what) exists, or start-up can make it: its
 * nearest existing ancestor is a directory and no name on the way is too
 * long. Whether this user may write there is left to start-up: the service's
 * runtime directory, for one, exists only while it runs.
 */
static gboolean
check_dir (const char *what, const char *path, GError **error)
{
  g_autofree char *ancestor = g_strdup (path);

  while (!g_file_test (ancestor, G_FILE_TEST_EXISTS)) {
    g_autofree char *base = g_path_get_basename (ancestor);
    char *parent;

    if (strlen (base) > NAME_MAX) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "%s: a name in %s is longer than %d bytes", what, path, NAME_MAX);
      return FALSE;
    }
    parent = g_path_get_dirname (ancestor);
    g_free (ancestor);
    ancestor = parent;
  }
  if (!g_file_test (ancestor, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "%s: %s is not a directory", what, ancestor);
    return FALSE;
  }
  return TRUE;
}

/* The admin socket replaces nothing but a stale socket, in a directory that
 * exists or can be made, and is not the state directory itself. */
static gboolean
check_control_socket (const char *path, const char *state_dir, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *socket_abs = g_canonicalize_filename (path, NULL);
  g_autofree char *state_abs = g_canonicalize_filename (state_dir, NULL);
  GStatBuf st;

  if (g_str_equal (socket_abs, state_abs)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "[gateway] control-socket: %s is the state directory", path);
    return FALSE;
  }
  if (g_lstat (path, &st) == 0 && !S_ISSOCK (st.st_mode)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "[gateway] control-socket: %s exists and is not a socket", path);
    return FALSE;
  }
  return check_dir ("[gateway] control-socket", dir, error);
}

gboolean
hearth_config_validate (HearthConfig *self, GError **error)
{
  const char *const addresses[] = { self->listen, self->pairing_listen };
  const char *const names[] = { "[gateway] listen", "[gateway] pairing-listen" };
  const char *const keys_of_addresses[] = { "listen", "pairing-listen" };

  for (guint i = 0; i < G_N_ELEMENTS (addresses); i++) {
    g_autoptr (GError) local_error = NULL;
    g_autofree char *host = NULL;
    g_autoptr (GInetAddress) address = NULL;

    if (!hearth_parse_host_port (addresses[i], &host, NULL, &local_error)) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID, "%s: %s",
                   names[i], local_error->message);
      hearth_config_prefix_location (self, error, "gateway", keys_of_addresses[i], addresses[i]);
      return FALSE;
    }
    address = g_inet_address_new_from_string (host);
    if (address == NULL) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "%s: “%s” is not an IP address", names[i], host);
      hearth_config_prefix_location (self, error, "gateway", keys_of_addresses[i], addresses[i]);
      return FALSE;
    }
    /* Invariant 7: bind only to the wildcard (peers are filtered at accept)
     * or to an address inside the local ranges. */
    if (!g_inet_address_get_is_any (address) &&
        !hearth_net_ranges_contains (self->local_ranges, address)) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_LOCAL,
                   "%s: %s is not a local address (see [gateway] local-networks)",
                   names[i], host);
      hearth_config_prefix_location (self, error, "gateway", keys_of_addresses[i], addresses[i]);
      return FALSE;
    }
  }
  /* A --local-networks override was checked where it was read: a range that
   * fails here is the file's. */
  if (!hearth_net_ranges_check_local (self->local_ranges, error)) {
    g_prefix_error (error, "[gateway] local-networks: ");
    hearth_config_prefix_location (self, error, "gateway", "local-networks", NULL);
    return FALSE;
  }
  if (self->camera_backoff_min_ms > self->camera_backoff_max_ms) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "[cameras] backoff-min-ms: %u is larger than backoff-max-ms (%u)",
                 self->camera_backoff_min_ms, self->camera_backoff_max_ms);
    hearth_config_prefix_location (self, error, "cameras", "backoff-min-ms", NULL);
    return FALSE;
  }
  if (!check_dir ("[gateway] state-dir", self->state_dir, error)) {
    hearth_config_prefix_location (self, error, "gateway", "state-dir", self->state_dir);
    return FALSE;
  }
  if (self->control_socket != NULL &&
      !check_control_socket (self->control_socket, self->state_dir, error)) {
    hearth_config_prefix_location (self, error, "gateway", "control-socket", self->control_socket);
    return FALSE;
  }
  if (!g_path_is_absolute (self->state_dir)) {
    g_autofree char *cwd = g_get_current_dir ();
    g_autofree char *abs = g_build_filename (cwd, self->state_dir, NULL);
    g_free (self->state_dir);
    self->state_dir = g_canonicalize_filename (abs, NULL);
  }
  return TRUE;
}

HearthConfig *
hearth_config_load (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr (GError) local_error = NULL;

  if (path == NULL)
    return config_new_defaults ();

  if (!g_file_get_contents (path, &text, &len, &local_error)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID, "%s: %s", path,
                 local_error->message);
    return NULL;
  }
  return hearth_config_load_data (text, len, path, error);
}

HearthConfig *
hearth_config_load_data (const char *text, gsize len, const char *path,
                         GError **error)
{
  g_autoptr (HearthConfig) self = config_new_defaults ();
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;
  g_auto (GStrv) groups = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  /* A NUL ends the text, as it ends what GKeyFile reads. */
  self->source_text = g_strndup (text, len);
  self->source_path = g_strdup (path);
  if (!g_key_file_load_from_data (file, self->source_text, -1, G_KEY_FILE_NONE,
                                  &local_error)) {
    guint line = find_bad_line (self->source_text);

    if (line > 0)
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "%s:%u: %s (want “[section]”, “key = value” or “# comment”)",
                   path, line, local_error->message);
    else
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID, "%s: %s", path,
                   local_error->message);
    return NULL;
  }
  {
    g_autofree char *group = NULL;
    g_autofree char *key = NULL;
    guint first = 0;
    guint line = find_duplicate_key (self->source_text, &group, &key, &first);

    if (line > 0) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "%s:%u: [%s] %s: set a second time (line %u sets it first)",
                   path, line, group, key, first);
      return NULL;
    }
  }
  groups = g_key_file_get_groups (file, NULL);
  for (guint g = 0; groups[g] != NULL; g++) {
    g_auto (GStrv) names = g_key_file_get_keys (file, groups[g], NULL, NULL);
    g_autofree char *known_groups = known_names (NULL);
    g_autofree char *known_keys = known_names (groups[g]);

    if (*known_keys == '\0') {
      g_autofree char *where = location (self, groups[g], NULL);

      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "%s[%s]: unknown section (known: %s)", where, groups[g],
                   known_groups);
      return NULL;
    }
    for (guint k = 0; names && names[k] != NULL; k++) {
      const KeySpec *spec = find_key (groups[g], names[k]);
      g_autofree char *where = location (self, groups[g], names[k]);

      if (spec == NULL) {
        g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                     "%s[%s] %s: unknown option (known in [%s]: %s)", where,
                     groups[g], names[k], groups[g], known_keys);
        return NULL;
      }
      if (!apply_key (self, file, spec, error)) {
        g_prefix_error (error, "%s", where);
        return NULL;
      }
    }
  }
  return g_steal_pointer (&self);
}
