/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rtsp: generic RTSP cameras.
 *
 * Discovers: "_rtsp._tcp" services. The URL is
 * rtsp://ADDRESS:PORT/PATH with PATH from TXT "path=" ("/" when absent).
 * Score 10, the lowest of the built-in plugins: any plugin that knows the
 * camera better wins.
 *
 * URL schemes: rtsp and rtsps, for cameras added by hand. The gateway ingests
 * these itself (rtspsrc), so this plugin has no build_source.
 *
 * Evidence: TXT "id=" → txt_id, "serial=" → serial, "mac=" → mac
 * (normalised; anything that is not one device's MAC is ignored), "model="
 * → model (for people). Values that are not printable text are ignored.
 *
 * Example: a camera announcing
 *   Front door._rtsp._tcp.local  port 8554
 *   TXT "path=/live" "mac=AA-BB-CC-00-11-22"
 * at 192.168.1.20 becomes rtsp://192.168.1.20:8554/live with MAC
 * aa:bb:cc:00:11:22.
 */
#define G_LOG_DOMAIN "hearth-plugin-rtsp"

#include "hearth-plugin.h"

#define RTSP_SERVICE_TYPE "_rtsp._tcp"

static const char *const service_types[] = { RTSP_SERVICE_TYPE, NULL };
static const char *const url_schemes[] = { "rtsp", "rtsps", NULL };

static int
rtsp_score (const HearthService *service)
{
  return g_ascii_strcasecmp (service->type, RTSP_SERVICE_TYPE) == 0 ? 10 : 0;
}

static char *
rtsp_build_url (const HearthService *service, GError **error)
{
  const char *path = hearth_service_get_txt (service, "path");

  return hearth_service_build_rtsp_url (service, "rtsp", path, error);
}

static void
rtsp_extract_evidence (const HearthService *service, HearthEvidence *evidence)
{
  const char *mac = hearth_service_get_txt (service, "mac");

  evidence->txt_id =
    g_strdup (hearth_service_get_txt_printable (service, "id"));
  evidence->serial =
    g_strdup (hearth_service_get_txt_printable (service, "serial"));
  evidence->mac = hearth_mac_normalize (mac);
  evidence->model =
    g_strdup (hearth_service_get_txt_printable (service, "model"));
}

static const HearthPlugin plugin = {
  .abi = HEARTH_PLUGIN_ABI,
  .name = "rtsp",
  .description = "Generic RTSP cameras (_rtsp._tcp, TXT path=) and "
                 "rtsp:// or rtsps:// URLs",
  .service_types = service_types,
  .url_schemes = url_schemes,
  .score = rtsp_score,
  .build_url = rtsp_build_url,
  .extract_evidence = rtsp_extract_evidence,
};

HEARTH_PLUGIN_EXPORT const HearthPlugin *
hearth_plugin_get (void)
{
  return &plugin;
}
