/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthPlugins: loads the camera plugins and answers which plugin handles
 * what.
 *
 * The daemon loads them once at start from its plugin directory; discovery
 * asks for the service types to browse and the best plugin for each
 * resolved service; cameras ask which plugin a URL's scheme belongs to (and
 * so whether the gateway ingests it with rtspsrc or the plugin builds the
 * source).
 *
 * A module is opened with G_MODULE_BIND_LOCAL, so that its symbols (it
 * carries its own copy of hearth-plugin-support) never resolve another
 * module's, and without lazy binding, so that a module missing a symbol
 * fails here, with a warning, rather than in the middle of a stream. Every
 * module that opened stays resident even when it is then refused: its
 * constructors have run, and whatever they registered must not point into
 * unmapped memory.
 *
 * A module is checked before anything of it is used (see hearth-plugin.h
 * for the rules). One bad module costs one warning, never the others.
 */
#define G_LOG_DOMAIN "hearth-plugins"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <gmodule.h>

#include "build-tree.h"
#include "error.h"
#include "plugins.h"

#include "hearth-config.h"

#define MODULE_SUFFIX ".so"
#define MAX_NAME_BYTES 32
/* An mDNS service type is "_name._tcp" with a name of at most 15 bytes
 * (RFC 6335); a little room beyond that costs nothing. */
#define MAX_SERVICE_TYPE_BYTES 63
#define MAX_SCHEME_BYTES 32

typedef struct {
  const HearthPlugin *plugin; /* static in its module, which stays loaded */
  char *file;                 /* the module's file name, for messages */
} Entry;

struct _HearthPlugins {
  GObject parent_instance;

  char *dir;
  GPtrArray *entries;   /* of Entry, by plugin name */
  GPtrArray *types;     /* of const char * (in the plugins), NULL-terminated */
};

G_DEFINE_TYPE (HearthPlugins, hearth_plugins, G_TYPE_OBJECT)

static void
entry_free (Entry *entry)
{
  g_free (entry->file);
  g_free (entry);
}

/* ---- what a plugin may declare ---- */

static gboolean
is_valid_name (const char *name)
{
  gsize len = name != NULL ? strlen (name) : 0;

  if (len == 0 || len > MAX_NAME_BYTES)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++) {
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-')
      return FALSE;
  }
  return TRUE;
}

/* "_name._tcp" or "_name._udp". */
static gboolean
is_valid_service_type (const char *type)
{
  gsize len = strlen (type);

  if (len < strlen ("_x._tcp") || len > MAX_SERVICE_TYPE_BYTES ||
      type[0] != '_' ||
      (!g_str_has_suffix (type, "._tcp") && !g_str_has_suffix (type, "._udp")))
    return FALSE;
  for (const char *p = type; *p != '\0'; p++) {
    if (!g_ascii_isalnum (*p) && strchr ("_-.", *p) == NULL)
      return FALSE;
  }
  return TRUE;
}

/* RFC 3986 scheme, lower-case. */
static gboolean
is_valid_scheme (const char *scheme)
{
  gsize len = strlen (scheme);

  if (len == 0 || len > MAX_SCHEME_BYTES || !g_ascii_islower (scheme[0]))
    return FALSE;
  for (const char *p = scheme; *p != '\0'; p++) {
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) &&
        strchr ("+-.", *p) == NULL)
      return FALSE;
  }
  return TRUE;
}

/* The schemes hearthd ingests itself (camera.c, rtspsrc). */
static gboolean
is_gateway_scheme (const char *scheme)
{
  return strcmp (scheme, "rtsp") == 0 || strcmp (scheme, "rtsps") == 0;
}

static gboolean
strv_contains_nocase (const char *const *strv, const char *s)
{
  for (guint i = 0; strv != NULL && strv[i] != NULL; i++) {
    if (g_ascii_strcasecmp (strv[i], s) == 0)
      return TRUE;
  }
  return FALSE;
}

static Entry *
find_entry_by_name (HearthPlugins *self, const char *name)
{
  for (guint i = 0; i < self->entries->len; i++) {
    Entry *entry = self->entries->pdata[i];

    if (strcmp (entry->plugin->name, name) == 0)
      return entry;
  }
  return NULL;
}

static Entry *
find_entry_by_scheme (HearthPlugins *self, const char *scheme)
{
  for (guint i = 0; i < self->entries->len; i++) {
    Entry *entry = self->entries->pdata[i];

    if (strv_contains_nocase (entry->plugin->url_schemes, scheme))
      return entry;
  }
  return NULL;
}

static Entry *
find_entry_by_type (HearthPlugins *self, const char *type)
{
  for (guint i = 0; i < self->entries->len; i++) {
    Entry *entry = self->entries->pdata[i];
    const HearthPlugin *plugin = entry->plugin;

    if (g_strcmp0 (plugin->discovery_type, type) == 0 ||
        strv_contains_nocase (plugin->service_types, type))
      return entry;
  }
  return NULL;
}

/* Whether @plugin can join the ones already loaded; says why not. */
static gboolean
check_plugin (HearthPlugins *self, const HearthPlugin *plugin, GError **error)
{
  const char *const *types = plugin->service_types;
  const char *const *schemes = plugin->url_schemes;
  gboolean has_types = types != NULL && types[0] != NULL;
  gboolean has_schemes = schemes != NULL && schemes[0] != NULL;
  gboolean has_discovery = plugin->discovery_type != NULL;
  gboolean has_hooks = plugin->discovery_start != NULL && plugin->discovery_stop != NULL &&
                       plugin->resolve_async != NULL && plugin->resolve_finish != NULL;
  gboolean has_any_hook = plugin->discovery_start != NULL || plugin->discovery_stop != NULL ||
                          plugin->resolve_async != NULL || plugin->resolve_finish != NULL;
  Entry *other;

  if (plugin->abi != HEARTH_PLUGIN_ABI) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "it was built for plugin ABI %u, hearthd has %u",
                 plugin->abi, HEARTH_PLUGIN_ABI);
    return FALSE;
  }
  if (!is_valid_name (plugin->name)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "its name is empty or not [a-z0-9-] of at most %d bytes",
                 MAX_NAME_BYTES);
    return FALSE;
  }
  other = find_entry_by_name (self, plugin->name);
  if (other != NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
                 "a plugin named “%s” was already loaded from %s",
                 plugin->name, other->file);
    return FALSE;
  }
  if (!has_types && !has_schemes && !has_discovery) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "it claims no service type, no URL scheme and no discovery");
    return FALSE;
  }
  if (has_discovery) {
    if (!is_valid_name (plugin->discovery_type)) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "its discovery type is not [a-z0-9-] of at most %d bytes",
                   MAX_NAME_BYTES);
      return FALSE;
    }
    other = find_entry_by_type (self, plugin->discovery_type);
    if (other != NULL) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
                   "discovery type “%s” is already claimed by plugin “%s” (%s)",
                   plugin->discovery_type, other->plugin->name, other->file);
      return FALSE;
    }
    if (!has_hooks) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                           "it has a discovery type but lacks discovery_start, "
                           "discovery_stop, resolve_async or resolve_finish");
      return FALSE;
    }
  } else if (has_any_hook) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "it has discovery or resolve functions but no discovery type");
    return FALSE;
  }

  for (guint i = 0; has_types && types[i] != NULL; i++) {
    if (!is_valid_service_type (types[i])) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                           "it claims a service type that is not "
                           "“_name._tcp” or “_name._udp”");
      return FALSE;
    }
  }
  if (has_types && (plugin->score == NULL || plugin->build_url == NULL)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "it claims service types but lacks score or "
                         "build_url");
    return FALSE;
  }

  for (guint i = 0; has_schemes && schemes[i] != NULL; i++) {
    if (!is_valid_scheme (schemes[i])) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                           "it claims a URL scheme that is not a lower-case "
                           "scheme name");
      return FALSE;
    }
    other = find_entry_by_scheme (self, schemes[i]);
    if (other != NULL) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS,
                   "URL scheme “%s” is already claimed by plugin “%s” (%s)",
                   schemes[i], other->plugin->name, other->file);
      return FALSE;
    }
    if (!is_gateway_scheme (schemes[i]) && plugin->build_source == NULL) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "it claims URL scheme “%s”, which hearthd does not ingest "
                   "itself, but has no build_source", schemes[i]);
      return FALSE;
    }
  }
  if (plugin->build_source != NULL && !has_schemes) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "it has build_source but claims no URL scheme");
    return FALSE;
  }
  return TRUE;
}

/* ---- loading ---- */

/* The plugin in the module at @path, or NULL and why not. */
static const HearthPlugin *
open_plugin (const char *path, GError **error)
{
  GModule *module;
  gpointer symbol = NULL;
  const HearthPlugin *plugin;
  GStatBuf st;

  /* Anyone could put code into hearthd through a world-writable module: a
   * mistake to refuse, not a defence against whoever owns the directory. */
  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "it is not a regular file");
    return NULL;
  }
  if ((st.st_mode & S_IWOTH) != 0) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                         "anyone may write to it");
    return NULL;
  }

  module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "it does not load: %s", g_module_error ());
    return NULL;
  }
  g_module_make_resident (module);

  if (!g_module_symbol (module, HEARTH_PLUGIN_SYMBOL, &symbol) ||
      symbol == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "it has no %s()", HEARTH_PLUGIN_SYMBOL);
    return NULL;
  }
  plugin = ((HearthPluginGetFunc) symbol) ();
  if (plugin == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "its %s() returned no plugin", HEARTH_PLUGIN_SYMBOL);
    return NULL;
  }
  return plugin;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static int
compare_entries (gconstpointer a, gconstpointer b)
{
  const Entry *ea = *(Entry *const *) a;
  const Entry *eb = *(Entry *const *) b;

  return strcmp (ea->plugin->name, eb->plugin->name);
}

/* The module files in @dir, sorted, so that the load order (and with it
 * which of two conflicting modules wins) does not depend on the file
 * system. */
static GPtrArray *
list_modules (const char *dir, GError **error)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, error);
  g_autoptr(GPtrArray) files = NULL;
  const char *name;

  if (d == NULL) {
    g_prefix_error (error, "cannot read the plugin directory: ");
    return NULL;
  }
  files = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (d)) != NULL) {
    if (g_str_has_suffix (name, MODULE_SUFFIX) && name[0] != '.')
      g_ptr_array_add (files, g_strdup (name));
  }
  g_ptr_array_sort (files, compare_strings);
  return g_steal_pointer (&files);
}

static void
collect_service_types (HearthPlugins *self)
{
  for (guint i = 0; i < self->entries->len; i++) {
    const Entry *entry = self->entries->pdata[i];
    const char *const *types = entry->plugin->service_types;

    for (guint k = 0; types != NULL && types[k] != NULL; k++) {
      gboolean seen = FALSE;

      for (guint n = 0; n < self->types->len && !seen; n++)
        seen = g_ascii_strcasecmp (self->types->pdata[n], types[k]) == 0;
      if (!seen)
        g_ptr_array_add (self->types, (gpointer) types[k]);
    }
  }
  g_ptr_array_add (self->types, NULL);
}

/**
 * hearth_plugins_default_dir:
 *
 * Returns: (transfer none): the plugin directory when none is configured
 */
const char *
hearth_plugins_default_dir (void)
{
  const char *dir = g_getenv (HEARTH_PLUGIN_DIR_ENV);

  if (dir != NULL && dir[0] != '\0')
    return dir;
  return hearth_build_tree_runs (HEARTH_BUILD_HEARTHD) ? HEARTH_BUILD_PLUGIN_DIR
                                                      : HEARTH_PLUGIN_DIR;
}

/**
 * hearth_plugins_load:
 * @dir: the plugin directory
 *
 * Returns: (transfer full): the plugins, or NULL if @dir cannot be read or
 *   holds no usable plugin
 */
HearthPlugins *
hearth_plugins_load (const char *dir, GError **error)
{
  g_autoptr(HearthPlugins) self = NULL;
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GString) names = NULL;

  g_return_val_if_fail (dir != NULL, NULL);

  if (!g_module_supported ()) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                         "this system cannot load modules");
    return NULL;
  }
  /* GLib's message names the directory. */
  files = list_modules (dir, error);
  if (files == NULL)
    return NULL;

  self = g_object_new (HEARTH_TYPE_PLUGINS, NULL);
  self->dir = g_strdup (dir);

  for (guint i = 0; i < files->len; i++) {
    const char *file = files->pdata[i];
    g_autofree char *path = g_build_filename (dir, file, NULL);
    g_autoptr(GError) local_error = NULL;
    const HearthPlugin *plugin;
    Entry *entry;

    plugin = open_plugin (path, &local_error);
    if (plugin == NULL || !check_plugin (self, plugin, &local_error)) {
      g_warning ("Camera plugin %s skipped: %s", path, local_error->message);
      continue;
    }
    entry = g_new0 (Entry, 1);
    entry->plugin = plugin;
    entry->file = g_strdup (file);
    g_ptr_array_add (self->entries, entry);
    g_debug ("Camera plugin “%s” loaded from %s", plugin->name, path);
  }

  if (self->entries->len == 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                 "no camera plugin could be loaded from %s", dir);
    return NULL;
  }
  g_ptr_array_sort (self->entries, compare_entries);
  collect_service_types (self);

  names = g_string_new (NULL);
  for (guint i = 0; i < self->entries->len; i++)
    g_string_append_printf (names, "%s%s", i > 0 ? ", " : "",
                            ((Entry *) self->entries->pdata[i])->plugin->name);
  g_message ("Camera plugins from %s: %s", dir, names->str);

  return g_steal_pointer (&self);
}

const char *
hearth_plugins_get_dir (HearthPlugins *self)
{
  g_return_val_if_fail (HEARTH_IS_PLUGINS (self), NULL);
  return self->dir;
}

const HearthPlugin *
hearth_plugins_find_by_name (HearthPlugins *self, const char *name)
{
  Entry *entry;

  g_return_val_if_fail (HEARTH_IS_PLUGINS (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  entry = find_entry_by_name (self, name);
  return entry != NULL ? entry->plugin : NULL;
}

const HearthPlugin *
hearth_plugins_find_for_url (HearthPlugins *self, const char *url)
{
  const char *scheme;
  Entry *entry;

  g_return_val_if_fail (HEARTH_IS_PLUGINS (self), NULL);
  g_return_val_if_fail (url != NULL, NULL);

  /* Interned and lower-cased by GLib; NULL when there is no scheme. */
  scheme = g_uri_peek_scheme (url);
  if (scheme == NULL)
    return NULL;
  entry = find_entry_by_scheme (self, scheme);
  return entry != NULL ? entry->plugin : NULL;
}

const HearthPlugin *
hearth_plugins_best_for_service (HearthPlugins *self,
                                 const HearthService *service, int *score)
{
  const HearthPlugin *best = NULL;
  int best_score = 0;

  g_return_val_if_fail (HEARTH_IS_PLUGINS (self), NULL);
  g_return_val_if_fail (service != NULL && service->type != NULL, NULL);

  /* What a plugin's own discovery reported is that plugin's. */
  for (guint i = 0; i < self->entries->len; i++) {
    const HearthPlugin *plugin = ((Entry *) self->entries->pdata[i])->plugin;

    if (g_strcmp0 (plugin->discovery_type, service->type) == 0) {
      if (score != NULL)
        *score = 100;
      return plugin;
    }
  }

  /* By name: on a tie the first keeps it. */
  for (guint i = 0; i < self->entries->len; i++) {
    const HearthPlugin *plugin = ((Entry *) self->entries->pdata[i])->plugin;
    int s;

    if (!strv_contains_nocase (plugin->service_types, service->type))
      continue;
    s = plugin->score (service);
    if (s > best_score) {
      best = plugin;
      best_score = s;
    }
  }

  if (score != NULL)
    *score = best_score;
  return best;
}

const char *const *
hearth_plugins_service_types (HearthPlugins *self)
{
  g_return_val_if_fail (HEARTH_IS_PLUGINS (self), NULL);
  return (const char *const *) self->types->pdata;
}

GPtrArray *
hearth_plugins_list (HearthPlugins *self)
{
  GPtrArray *list;

  g_return_val_if_fail (HEARTH_IS_PLUGINS (self), NULL);

  list = g_ptr_array_sized_new (self->entries->len);
  for (guint i = 0; i < self->entries->len; i++) {
    const Entry *entry = self->entries->pdata[i];

    g_ptr_array_add (list, (gpointer) entry->plugin);
  }
  return list;
}

/* ---- GObject ---- */

static void
hearth_plugins_finalize (GObject *object)
{
  HearthPlugins *self = HEARTH_PLUGINS (object);

  g_free (self->dir);
  g_ptr_array_unref (self->entries);
  g_ptr_array_unref (self->types);

  G_OBJECT_CLASS (hearth_plugins_parent_class)->finalize (object);
}

static void
hearth_plugins_class_init (HearthPluginsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = hearth_plugins_finalize;
}

static void
hearth_plugins_init (HearthPlugins *self)
{
  self->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  self->types = g_ptr_array_new ();
}
