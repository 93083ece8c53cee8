/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib-object.h>

#include "hearth-plugin.h"

G_BEGIN_DECLS

/*
 * HearthPlugins: the camera plugins (hearth-plugin.h) loaded from one
 * directory at start, and the lookups the gateway makes in them: which
 * plugin takes a discovered service, which one a URL's scheme belongs to,
 * and which service types to browse for. Immutable once loaded; modules are
 * never unloaded, so the HearthPlugin pointers it hands out live as long as
 * the process.
 */
#define HEARTH_TYPE_PLUGINS (hearth_plugins_get_type ())
G_DECLARE_FINAL_TYPE (HearthPlugins, hearth_plugins, HEARTH, PLUGINS, GObject)

/* The environment variable that overrides the compiled-in plugin directory
 * (the build tree's plugins/ for the tests). */
#define HEARTH_PLUGIN_DIR_ENV "HEARTH_PLUGIN_DIR"

/* $HEARTH_PLUGIN_DIR when set and not empty; else, for the hearthd of a
 * build tree (its /proc/self/exe), the plugins built beside it; else
 * LIBDIR/hearth/plugins. An explicit --plugin-dir or config setting goes
 * before all of them. */
const char *hearth_plugins_default_dir (void);

/*
 * Loads every "*.so" in @dir, in file name order. A module that cannot be
 * used (see hearth-plugin.h) is skipped with one warning naming the file and
 * why. Fails only if @dir cannot be read or no plugin loaded.
 * (transfer full)
 */
HearthPlugins *hearth_plugins_load (const char *dir, GError **error);

const char *hearth_plugins_get_dir (HearthPlugins *self);

/* (nullable) (transfer none) */
const HearthPlugin *hearth_plugins_find_by_name (HearthPlugins *self,
                                                 const char *name);
/* The plugin claiming @url's scheme (compared case-insensitively), or NULL.
 * (nullable) (transfer none) */
const HearthPlugin *hearth_plugins_find_for_url (HearthPlugins *self,
                                                 const char *url);
/*
 * The plugin claiming @service->type whose score for it is highest (ties:
 * the first by name), or NULL when none scores above 0. @score: (out)
 * (optional) its score, 0 for NULL. (nullable) (transfer none)
 */
const HearthPlugin *hearth_plugins_best_for_service (HearthPlugins *self,
                                                     const HearthService *service,
                                                     int *score);
/* Every service type some plugin claims, once each, for the browser.
 * NULL-terminated. (transfer none) */
const char *const *hearth_plugins_service_types (HearthPlugins *self);
/* The loaded plugins, by name, for listings (name, description, service
 * types, URL schemes). (element-type HearthPlugin) (transfer container) */
GPtrArray *hearth_plugins_list (HearthPlugins *self);

G_END_DECLS
