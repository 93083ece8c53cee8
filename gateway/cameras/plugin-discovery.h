/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib-object.h>

#include "discovery.h"
#include "netaddr.h"
#include "plugins.h"

G_BEGIN_DECLS

/*
 * HearthPluginDiscovery: runs the discoveries of the camera plugins that
 * have one (ABI 2: discovery_start / discovery_stop, e.g. ONVIF
 * WS-Discovery) and hands what they report to HearthDiscovery, which checks
 * it as it checks mDNS services (local address, text, bounds) before anyone
 * sees it. Owned by the daemon; main context only.
 */
#define HEARTH_TYPE_PLUGIN_DISCOVERY (hearth_plugin_discovery_get_type ())
G_DECLARE_FINAL_TYPE (HearthPluginDiscovery, hearth_plugin_discovery, HEARTH,
                      PLUGIN_DISCOVERY, GObject)

/* (transfer full) */
HearthPluginDiscovery *hearth_plugin_discovery_new (HearthPlugins *plugins,
                                                    HearthDiscovery *discovery,
                                                    const HearthNetRanges *ranges);
/* Starts every plugin's discovery; one that cannot start is logged and
 * left out. */
void hearth_plugin_discovery_start (HearthPluginDiscovery *self);
/* Stops them all; nothing they found is listed any more. */
void hearth_plugin_discovery_stop (HearthPluginDiscovery *self);

G_END_DECLS
