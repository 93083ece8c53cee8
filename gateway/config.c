/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthConfig: reads the key file (every option has an embedded default),
 * rejects unknown keys and bad values with group/key/reason, and is never
 * changed once the daemon runs. Runtime state lives in HearthDaemon.
 */
#define G_LOG_DOMAIN "hearth-config"

#include "config.h"
#include "error.h"

#include <string.h>

typedef enum { KEY_STRING, KEY_UINT, KEY_UINT64, KEY_RANGES, KEY_BOOL } KeyType;

typedef struct {
  const char *group;
  const char *key;
  KeyType type;
  gsize offset;
  guint64 min, max;
} KeySpec;

#define F(field) G_STRUCT_OFFSET (HearthConfig, field)

static const KeySpec keys[] = {
  { "gateway", "name", KEY_STRING, F (name), 1, 64 },
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
  { "limits", "max-streams-per-display", KEY_UINT, F (max_streams_per_display), 1, 256 },
  { "limits", "gop-cache-bytes", KEY_UINT64, F (gop_cache_bytes), 65536, G_GUINT64_CONSTANT (1) << 30 },
  { "limits", "display-queue-bytes", KEY_UINT64, F (display_queue_bytes), 65536, G_GUINT64_CONSTANT (1) << 30 },
  { "cameras", "backoff-min-ms", KEY_UINT, F (camera_backoff_min_ms), 10, 600000 },
  { "cameras", "backoff-max-ms", KEY_UINT, F (camera_backoff_max_ms), 10, 3600000 },
  { "cameras", "plugin-dir", KEY_STRING, F (plugin_dir), 1, 4096 },
  { "discovery", "enabled", KEY_BOOL, F (discovery_enabled), 0, 0 },
  { "discovery", "auto-adopt", KEY_STRING, F (auto_adopt_household), 0, 64 },
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
    char *line = g_strstrip (lines[i]);
    char *eq;

    if (line[0] == '[' && g_str_has_suffix (line, "]")) {
      g_free (current);
      current = g_strndup (line + 1, strlen (line) - 2);
      if (key == NULL && g_str_equal (current, group))
        found = i + 1;
    } else if (key != NULL && current != NULL && g_str_equal (current, group) &&
               line[0] != '#' && (eq = strchr (line, '=')) != NULL) {
      *eq = '\0';
      if (g_str_equal (g_strstrip (line), key))
        found = i + 1;
    }
  }
  return found;
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

/* Prefixes @error with where @group/@key is, if the value in the file is
 * still the one in effect (a command-line override is not in the file). */
static void
prefix_location (const HearthConfig *self, GError **error, const char *group,
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
  g_autofree char *raw = g_key_file_get_string (file, spec->group, spec->key,
                                                NULL);
  gpointer field = G_STRUCT_MEMBER_P (self, spec->offset);
  g_autoptr (GError) local_error = NULL;
  guint64 value;

  if (raw == NULL)
    raw = g_strdup ("");
  g_strstrip (raw);

  switch (spec->type) {
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
      prefix_location (self, error, "gateway", keys_of_addresses[i], addresses[i]);
      return FALSE;
    }
    address = g_inet_address_new_from_string (host);
    if (address == NULL) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "%s: “%s” is not an IP address", names[i], host);
      prefix_location (self, error, "gateway", keys_of_addresses[i], addresses[i]);
      return FALSE;
    }
    /* Invariant 7: bind only to the wildcard (peers are filtered at accept)
     * or to an address inside the local ranges. */
    if (!g_inet_address_get_is_any (address) &&
        !hearth_net_ranges_contains (self->local_ranges, address)) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_LOCAL,
                   "%s: %s is not a local address (see [gateway] local-networks)",
                   names[i], host);
      prefix_location (self, error, "gateway", keys_of_addresses[i], addresses[i]);
      return FALSE;
    }
  }
  if (self->camera_backoff_min_ms > self->camera_backoff_max_ms) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "[cameras] backoff-min-ms: %u is larger than backoff-max-ms (%u)",
                 self->camera_backoff_min_ms, self->camera_backoff_max_ms);
    prefix_location (self, error, "cameras", "backoff-min-ms", NULL);
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
