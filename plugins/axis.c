/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * axis: Axis network cameras (VAPIX).
 *
 * Discovers: "_axis-video._tcp" services. Axis announces its HTTP port
 * there, not its RTSP port, so the URL is
 * rtsp://ADDRESS:554/axis-media/media.amp: 554 is the RTSP port of every
 * Axis camera unless an admin moved it. A TXT "rtsp_port=N" (decimal,
 * 1–65535) is used instead where present, for cameras (or proxies) that say
 * where RTSP really is. Score 50: this type is Axis's own, so it beats the
 * generic rtsp plugin wherever both could claim a camera.
 *
 * URL schemes: none; an Axis camera added by hand is an rtsp:// URL.
 *
 * Evidence: Axis's TXT "macaddress=" (12 hex digits) → mac
 * ("ac:cc:8e:12:34:56") and txt_id ("ACCC8E123456": an Axis serial number
 * is its MAC). Model: TXT "model=" where present, else from the default
 * instance name "AXIS M3045-V - ACCC8E123456" (→ "AXIS M3045-V"); a
 * renamed camera has no model.
 *
 * Example: "AXIS P1448-LE - ACCC8E000001._axis-video._tcp.local", port 80,
 * TXT "macaddress=ACCC8E000001", at 192.168.1.30 →
 * rtsp://192.168.1.30:554/axis-media/media.amp.
 */
#define G_LOG_DOMAIN "hearth-plugin-axis"

#include <string.h>

#include "hearth-plugin.h"

#define AXIS_SERVICE_TYPE "_axis-video._tcp"
#define AXIS_RTSP_PORT 554
#define AXIS_RTSP_PATH "/axis-media/media.amp"
#define AXIS_NAME_PREFIX "AXIS "

static const char *const service_types[] = { AXIS_SERVICE_TYPE, NULL };

static int
axis_score (const HearthService *service)
{
  return g_ascii_strcasecmp (service->type, AXIS_SERVICE_TYPE) == 0 ? 50 : 0;
}

/* TXT rtsp_port=, if it is a port number; else Axis's default. */
static guint16
rtsp_port (const HearthService *service)
{
  const char *hint = hearth_service_get_txt (service, "rtsp_port");
  guint64 port = 0;

  if (hint != NULL &&
      g_ascii_string_to_unsigned (hint, 10, 1, G_MAXUINT16, &port, NULL))
    return (guint16) port;
  return AXIS_RTSP_PORT;
}

static char *
axis_build_url (const HearthService *service, GError **error)
{
  HearthService rtsp = *service;

  rtsp.port = rtsp_port (service);
  return hearth_service_build_rtsp_url (&rtsp, "rtsp", AXIS_RTSP_PATH, error);
}

/* "AXIS M3045-V - ACCC8E123456" → "AXIS M3045-V"; NULL for other names. */
static char *
model_from_name (const char *name)
{
  const char *end;

  if (name == NULL || !g_utf8_validate (name, -1, NULL) ||
      g_ascii_strncasecmp (name, AXIS_NAME_PREFIX,
                           strlen (AXIS_NAME_PREFIX)) != 0)
    return NULL;
  end = strstr (name, " - ");
  if (end == NULL)
    end = name + strlen (name);
  for (const char *p = name; p < end; p++) {
    /* The model part is ASCII on every Axis camera; anything else is a
     * name someone chose. */
    if (!g_ascii_isprint (*p))
      return NULL;
  }
  return g_strstrip (g_strndup (name, end - name));
}

static void
axis_extract_evidence (const HearthService *service, HearthEvidence *evidence)
{
  const char *mac_text = hearth_service_get_txt (service, "macaddress");
  const char *model = hearth_service_get_txt_printable (service, "model");
  gboolean hex12 = mac_text != NULL && strlen (mac_text) == 12;

  for (guint i = 0; hex12 && i < 12; i++)
    hex12 = g_ascii_isxdigit (mac_text[i]);
  if (hex12) {
    evidence->mac = hearth_mac_normalize (mac_text);
    if (evidence->mac != NULL)
      evidence->txt_id = g_ascii_strup (mac_text, -1);
  }

  evidence->model = model != NULL ? g_strdup (model)
                                  : model_from_name (service->name);
}

static const HearthPlugin plugin = {
  .abi = HEARTH_PLUGIN_ABI,
  .name = "axis",
  .description = "Axis cameras (_axis-video._tcp, VAPIX RTSP "
                 "/axis-media/media.amp on port 554)",
  .service_types = service_types,
  .score = axis_score,
  .build_url = axis_build_url,
  .extract_evidence = axis_extract_evidence,
};

HEARTH_PLUGIN_EXPORT const HearthPlugin *
hearth_plugin_get (void)
{
  return &plugin;
}
