/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthPluginDiscovery: the camera plugins' own discoveries (see
 * plugin-discovery.h and hearth-plugin.h, ABI 2).
 *
 * Each running discovery gets a Source: the hooks the plugin calls (report,
 * withdraw), the local networks as strings, and the plugin's handle. The
 * hooks only forward to HearthDiscovery, which owns every check on what the
 * network said; a hook called for another type than the plugin's own is a
 * plugin bug and refused. Everything runs on the main context: the plugins
 * start their sockets on it and call the hooks from their own callbacks.
 */
#define G_LOG_DOMAIN "hearth-plugin-discovery"

#include "plugin-discovery.h"

#include <string.h>

typedef struct {
  HearthPluginDiscovery *self;   /* not owned: it stops us before it goes */
  const HearthPlugin *plugin;
  HearthDiscoveryHooks hooks;
  gpointer handle;
} Source;

struct _HearthPluginDiscovery {
  GObject parent_instance;

  HearthPlugins *plugins;
  HearthDiscovery *discovery;
  char **networks;               /* "address/prefix", for the hooks */
  GPtrArray *sources;            /* of Source */
};

G_DEFINE_TYPE (HearthPluginDiscovery, hearth_plugin_discovery, G_TYPE_OBJECT)

static void
on_report (gpointer gateway, const char *id, const HearthService *service)
{
  Source *source = gateway;

  if (id == NULL || service == NULL ||
      g_strcmp0 (service->type, source->plugin->discovery_type) != 0) {
    g_warning ("Camera plugin “%s” reported a device of another type than its own, "
               "ignoring", source->plugin->name);
    return;
  }
  hearth_discovery_report (source->self->discovery, id, service);
}

static void
on_withdraw (gpointer gateway, const char *id)
{
  Source *source = gateway;

  if (id != NULL)
    hearth_discovery_withdraw (source->self->discovery, source->plugin->discovery_type, id);
}

static void
source_free (Source *source)
{
  g_free (source);
}

void
hearth_plugin_discovery_start (HearthPluginDiscovery *self)
{
  g_autoptr (GPtrArray) list = NULL;

  g_return_if_fail (HEARTH_IS_PLUGIN_DISCOVERY (self));

  if (self->sources->len > 0)
    return;
  list = hearth_plugins_list (self->plugins);
  for (guint i = 0; i < list->len; i++) {
    const HearthPlugin *plugin = list->pdata[i];
    g_autoptr (GError) error = NULL;
    Source *source;

    if (plugin->discovery_type == NULL)
      continue;
    source = g_new0 (Source, 1);
    source->self = self;
    source->plugin = plugin;
    source->hooks.report = on_report;
    source->hooks.withdraw = on_withdraw;
    source->hooks.gateway = source;
    source->hooks.local_networks = (const char *const *) self->networks;
    source->handle = plugin->discovery_start (&source->hooks, &error);
    if (source->handle == NULL) {
      g_warning ("The %s plugin's discovery did not start: %s; its cameras are not "
                 "discovered", plugin->name, error ? error->message : "no reason given");
      source_free (source);
      continue;
    }
    hearth_discovery_source_started (self->discovery);
    g_message ("%s discovery running (plugin “%s”)", plugin->discovery_type, plugin->name);
    g_ptr_array_add (self->sources, source);
  }
}

void
hearth_plugin_discovery_stop (HearthPluginDiscovery *self)
{
  g_return_if_fail (HEARTH_IS_PLUGIN_DISCOVERY (self));

  while (self->sources->len > 0) {
    Source *source = g_ptr_array_steal_index (self->sources, self->sources->len - 1);

    source->plugin->discovery_stop (source->handle);
    hearth_discovery_source_stopped (self->discovery, source->plugin->discovery_type);
    source_free (source);
  }
}

static void
hearth_plugin_discovery_dispose (GObject *object)
{
  HearthPluginDiscovery *self = HEARTH_PLUGIN_DISCOVERY (object);

  if (self->sources != NULL)
    hearth_plugin_discovery_stop (self);
  g_clear_object (&self->discovery);
  g_clear_object (&self->plugins);
  G_OBJECT_CLASS (hearth_plugin_discovery_parent_class)->dispose (object);
}

static void
hearth_plugin_discovery_finalize (GObject *object)
{
  HearthPluginDiscovery *self = HEARTH_PLUGIN_DISCOVERY (object);

  g_ptr_array_unref (self->sources);
  g_strfreev (self->networks);
  G_OBJECT_CLASS (hearth_plugin_discovery_parent_class)->finalize (object);
}

static void
hearth_plugin_discovery_class_init (HearthPluginDiscoveryClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hearth_plugin_discovery_dispose;
  G_OBJECT_CLASS (klass)->finalize = hearth_plugin_discovery_finalize;
}

static void
hearth_plugin_discovery_init (HearthPluginDiscovery *self)
{
  self->sources = g_ptr_array_new ();
}

HearthPluginDiscovery *
hearth_plugin_discovery_new (HearthPlugins *plugins, HearthDiscovery *discovery,
                             const HearthNetRanges *ranges)
{
  HearthPluginDiscovery *self = g_object_new (HEARTH_TYPE_PLUGIN_DISCOVERY, NULL);
  g_autofree char *text = hearth_net_ranges_to_string (ranges);

  self->plugins = g_object_ref (plugins);
  self->discovery = g_object_ref (discovery);
  /* The ranges' text form is a ';'-separated list of address/prefix. */
  self->networks = g_strsplit_set (text != NULL ? text : "", ";, ", -1);
  return self;
}
