/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Camera plugin modules for test-plugins, one per VARIANT_* define: an extra
 * plugin that loads ("test-extra": scores _rtsp._tcp like the rtsp plugin
 * unless TXT vendor=test, to test ties and overrides), and one for each way
 * hearthd must refuse a module (VARIANT_NO_HOOKS: an ABI 2 discovery type
 * without its discovery and resolve functions).
 */
#include "hearth-plugin.h"

#ifdef VARIANT_NO_SYMBOL

/* The module loads, but has no hearth_plugin_get. */
HEARTH_PLUGIN_EXPORT int hearth_plugin_get_not (void);

HEARTH_PLUGIN_EXPORT int
hearth_plugin_get_not (void)
{
  return 0;
}

#else

static const char *const types[] = {
#if defined(VARIANT_EXTRA)
  "_rtsp._tcp", "_test-cam._tcp",
#else
  "_test-bad._tcp",
#endif
  NULL
};

#ifdef VARIANT_SCHEME_CLASH
static const char *const schemes[] = { "rtsp", NULL };
#endif

#ifndef VARIANT_NO_SCORE
static int
test_score (const HearthService *service)
{
  if (g_ascii_strcasecmp (service->type, "_test-cam._tcp") == 0)
    return 20;
  return g_strcmp0 (hearth_service_get_txt (service, "vendor"), "test") == 0
         ? 60 : 10;
}
#endif

static char *
test_build_url (const HearthService *service, GError **error)
{
  return hearth_service_build_rtsp_url (service, "rtsp", "/test", error);
}

static const HearthPlugin plugin = {
#ifdef VARIANT_BAD_ABI
  .abi = HEARTH_PLUGIN_ABI + 1,
#else
  .abi = HEARTH_PLUGIN_ABI,
#endif
#if defined(VARIANT_DUP_NAME)
  .name = "axis",
#elif defined(VARIANT_EXTRA)
  .name = "test-extra",
#else
  .name = "test-bad",
#endif
  .description = "A plugin for test-plugins",
  .service_types = types,
#ifdef VARIANT_SCHEME_CLASH
  .url_schemes = schemes,
#endif
#ifdef VARIANT_NO_HOOKS
  .discovery_type = "test-hooks",
#endif
#ifndef VARIANT_NO_SCORE
  .score = test_score,
#endif
  .build_url = test_build_url,
};

HEARTH_PLUGIN_EXPORT const HearthPlugin *
hearth_plugin_get (void)
{
  return &plugin;
}

#endif
