/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * synthetic: a test-pattern camera with no network, so that a machine with
 * no camera (hearthd --demo, the tests) still shows something.
 *
 * Discovers: nothing. URL scheme: synthetic.
 *
 *   synthetic:[pattern=NAME]
 *
 * Options are "key=value" pairs joined by '&'. pattern is any nick of
 * videotestsrc's pattern property ("ball", the default, "smpte", "snow",
 * …). An unknown option or pattern is an error (HEARTH_PLUGIN_ERROR_INVALID:
 * no retry fixes it), never ignored.
 *
 * The source is a bin that looks like a real camera's sub-stream, so that
 * what plays the demo plays a camera: videotestsrc (live, a moving ball by
 * default) at 640x360, 30 fps, with the wall-clock time drawn on it (a
 * frozen stream shows at once), in 8-bit 4:2:0, encoded by x264 as H.264
 * Main profile with no B-frames and a keyframe every 2 seconds (what
 * cameras ship with; hardware decoders in tablets and TVs play it), ending
 * in h264parse; its ghost pad "src" gives video/x-h264.
 * The bin comes from a constant description: nothing from the URL is ever
 * formatted into it, options become properties.
 *
 * Example: synthetic:pattern=smpte
 */
#define G_LOG_DOMAIN "hearth-plugin-synthetic"

#include <string.h>

#include "hearth-plugin.h"

#define SYNTHETIC_PREFIX "synthetic:"

static const char synthetic_description[] =
  "videotestsrc name=src is-live=true pattern=ball ! "
  "video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! "
  "clockoverlay time-format=\"%H:%M:%S\" ! "
  "x264enc tune=zerolatency speed-preset=superfast key-int-max=60 "
  "bitrate=1000 ! video/x-h264,profile=main ! h264parse";

static const char *const url_schemes[] = { "synthetic", NULL };

/* Applies "key=value&…" options to the test source. */
static gboolean
configure (GstElement *bin, const char *options, GError **error)
{
  g_auto(GStrv) pairs = NULL;
  g_autoptr(GstElement) src = gst_bin_get_by_name (GST_BIN (bin), "src");

  if (options[0] == '\0')
    return TRUE;

  pairs = g_strsplit (options, "&", 0);
  for (guint i = 0; pairs[i] != NULL; i++) {
    const char *eq = strchr (pairs[i], '=');
    g_autofree char *key = NULL;
    const char *value;

    if (pairs[i][0] == '\0')
      continue;
    if (eq == NULL) {
      g_set_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID,
                   "Synthetic camera option \"%s\" has no value", pairs[i]);
      return FALSE;
    }
    key = g_strndup (pairs[i], eq - pairs[i]);
    value = eq + 1;

    if (g_strcmp0 (key, "pattern") == 0) {
      GParamSpec *pspec =
        g_object_class_find_property (G_OBJECT_GET_CLASS (src), "pattern");
      GEnumClass *enum_class;

      if (pspec == NULL || !G_IS_PARAM_SPEC_ENUM (pspec)) {
        g_set_error_literal (error, HEARTH_PLUGIN_ERROR,
                             HEARTH_PLUGIN_ERROR_FAILED,
                             "videotestsrc has no pattern property");
        return FALSE;
      }
      enum_class = G_PARAM_SPEC_ENUM (pspec)->enum_class;
      if (g_enum_get_value_by_nick (enum_class, value) == NULL) {
        g_set_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID,
                     "Unknown synthetic camera pattern \"%s\"", value);
        return FALSE;
      }
      gst_util_set_object_arg (G_OBJECT (src), "pattern", value);
    } else {
      g_set_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID,
                   "Unknown synthetic camera option \"%s\"", key);
      return FALSE;
    }
  }
  return TRUE;
}

static GstElement *
synthetic_build_source (const char *url, GError **error)
{
  g_autoptr(GstElement) bin = NULL;
  GError *parse_error = NULL;

  if (g_ascii_strncasecmp (url, SYNTHETIC_PREFIX,
                           strlen (SYNTHETIC_PREFIX)) != 0) {
    g_set_error_literal (error, HEARTH_PLUGIN_ERROR,
                         HEARTH_PLUGIN_ERROR_INVALID,
                         "The camera URL is not synthetic:");
    return NULL;
  }

  /* The unlinked h264parse src pad becomes the bin's ghost pad "src". */
  bin = gst_parse_bin_from_description_full (synthetic_description, TRUE, NULL,
                                             GST_PARSE_FLAG_FATAL_ERRORS,
                                             &parse_error);
  if (bin == NULL) {
    g_set_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_FAILED,
                 "Could not build the synthetic camera pipeline: %s",
                 parse_error->message);
    g_error_free (parse_error);
    return NULL;
  }
  gst_object_ref_sink (bin);

  if (!configure (bin, url + strlen (SYNTHETIC_PREFIX), error))
    return NULL;

  /* The caller gets the floating reference the header promises. */
  g_object_force_floating (G_OBJECT (bin));
  return g_steal_pointer (&bin);
}

static const HearthPlugin plugin = {
  .abi = HEARTH_PLUGIN_ABI,
  .name = "synthetic",
  .description = "Test-pattern camera without network (synthetic: URLs, "
                 "option pattern=NAME)",
  .url_schemes = url_schemes,
  .build_source = synthetic_build_source,
};

HEARTH_PLUGIN_EXPORT const HearthPlugin *
hearth_plugin_get (void)
{
  return &plugin;
}
