/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What camera plugins share: TXT lookups, the one way to turn a resolved
 * service into an RTSP URL, MAC normalisation and the HearthPlugin error
 * domain.
 *
 * Built as the static library hearth-plugin-support (position independent)
 * and linked into every plugin module and into hearthd, so a plugin needs no
 * symbol from the daemon and loads with G_MODULE_BIND_LOCAL. Each copy is
 * the same code; nothing here keeps state.
 *
 * Everything handled here came from the network: a TXT value may be any
 * bytes. So the URL builder allows a short list of path characters instead
 * of refusing a list of bad ones, and the MAC parser accepts three exact
 * shapes only.
 */
#define G_LOG_DOMAIN "hearth-plugin"

#include <string.h>

#include "hearth-plugin.h"

#define MAX_PATH_BYTES 1024
#define MAX_ZONE_BYTES 15 /* IFNAMSIZ - 1 */

GQuark
hearth_plugin_error_quark (void)
{
  /* Not G_DEFINE_QUARK: that registers a static string, and each plugin has
   * its own copy of this function. Whichever copy runs first would leave
   * GLib's quark table pointing into that module; a copied string keeps the
   * table independent of which module registered it. */
  static GQuark quark;

  if (quark == 0)
    quark = g_quark_from_string ("hearth-plugin-error-quark");
  return quark;
}

/**
 * hearth_service_get_txt:
 *
 * Returns: (nullable) (transfer none): the TXT value of @key, untrusted bytes
 */
const char *
hearth_service_get_txt (const HearthService *service, const char *key)
{
  g_return_val_if_fail (service != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  if (service->txt == NULL)
    return NULL;
  return g_hash_table_lookup (service->txt, key);
}

/* Shown in hearthctl's terminal and stored: no escape sequences, no bidi
 * overrides, nothing that is not text. */
static gboolean
is_printable_text (const char *text)
{
  if (text == NULL || text[0] == '\0' || !g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    if (g_unichar_iscntrl (c) || g_unichar_type (c) == G_UNICODE_FORMAT)
      return FALSE;
  }
  return TRUE;
}

/**
 * hearth_service_get_txt_printable:
 *
 * Returns: (nullable) (transfer none): the TXT value of @key if it is text
 *   people can be shown
 */
const char *
hearth_service_get_txt_printable (const HearthService *service,
                                  const char *key)
{
  const char *value = hearth_service_get_txt (service, key);

  return is_printable_text (value) ? value : NULL;
}

/* RFC 3986 path characters without '%': unreserved, sub-delims, ':' and '/'.
 * '@' is left out on purpose: some URL parsers take what precedes it for
 * user information. */
static gboolean
is_path_char (char c)
{
  return g_ascii_isalnum (c) || strchr ("-._~!$&'()*+,;=:/", c) != NULL;
}

static gboolean
check_path (const char *path, GError **error)
{
  if (strlen (path) > MAX_PATH_BYTES) {
    g_set_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID,
                 "The camera's stream path is longer than %d bytes",
                 MAX_PATH_BYTES);
    return FALSE;
  }
  if (strstr (path, "..") != NULL) {
    g_set_error_literal (error, HEARTH_PLUGIN_ERROR,
                         HEARTH_PLUGIN_ERROR_INVALID,
                         "The camera's stream path holds \"..\"");
    return FALSE;
  }
  for (const char *p = path; *p != '\0'; p++) {
    if (!is_path_char (*p)) {
      /* The byte itself may be anything: name it by its value only. */
      g_set_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID,
                   "The camera's stream path holds a character not allowed "
                   "in a URL path (byte 0x%02x)", (guchar) *p);
      return FALSE;
    }
  }
  return TRUE;
}

/* "192.0.2.1" → itself; "fe80::1%eth0" → "[fe80::1%25eth0]" (RFC 6874).
 * NULL if @address is not a numeric address. */
static char *
format_url_host (const char *address)
{
  const char *percent = strchr (address, '%');
  g_autofree char *ip = NULL;
  const char *zone = NULL;

  if (percent == NULL) {
    ip = g_strdup (address);
  } else {
    ip = g_strndup (address, percent - address);
    zone = percent + 1;
  }

  if (!g_hostname_is_ip_address (ip) || strchr (ip, '%') != NULL)
    return NULL;
  if (strchr (ip, ':') == NULL)
    return zone == NULL ? g_steal_pointer (&ip) : NULL;

  if (zone == NULL)
    return g_strdup_printf ("[%s]", ip);
  if (zone[0] == '\0' || strlen (zone) > MAX_ZONE_BYTES)
    return NULL;
  for (const char *p = zone; *p != '\0'; p++) {
    if (!g_ascii_isalnum (*p) && strchr ("-._~", *p) == NULL)
      return NULL;
  }
  return g_strdup_printf ("[%s%%25%s]", ip, zone);
}

/**
 * hearth_service_build_rtsp_url:
 * @scheme: "rtsp" or "rtsps"
 * @path: (nullable): the stream path, untrusted
 *
 * Returns: (transfer full): the URL, or NULL with @error set
 */
char *
hearth_service_build_rtsp_url (const HearthService *service,
                               const char *scheme, const char *path,
                               GError **error)
{
  g_autofree char *host = NULL;
  g_autofree char *url = NULL;

  g_return_val_if_fail (service != NULL, NULL);
  g_return_val_if_fail (g_strcmp0 (scheme, "rtsp") == 0 ||
                        g_strcmp0 (scheme, "rtsps") == 0, NULL);

  if (service->address == NULL ||
      (host = format_url_host (service->address)) == NULL) {
    g_set_error_literal (error, HEARTH_PLUGIN_ERROR,
                         HEARTH_PLUGIN_ERROR_INVALID,
                         "The camera's address is not a numeric address");
    return NULL;
  }
  if (service->port == 0) {
    g_set_error_literal (error, HEARTH_PLUGIN_ERROR,
                         HEARTH_PLUGIN_ERROR_INVALID,
                         "The camera announced port 0");
    return NULL;
  }
  if (path == NULL)
    path = "";
  if (!check_path (path, error))
    return NULL;

  url = g_strdup_printf ("%s://%s:%u%s%s", scheme, host, service->port,
                         path[0] == '/' ? "" : "/", path);
  /* Belt and braces: what the checks let through must still parse as a URL
   * with exactly that host and no user information. */
  if (!g_uri_is_valid (url, G_URI_FLAGS_NONE, NULL)) {
    g_set_error_literal (error, HEARTH_PLUGIN_ERROR,
                         HEARTH_PLUGIN_ERROR_INVALID,
                         "The camera's URL would not be valid");
    return NULL;
  }
  return g_steal_pointer (&url);
}

/**
 * hearth_mac_normalize:
 * @text: (nullable): untrusted
 *
 * Returns: (nullable) (transfer full): "aa:bb:cc:dd:ee:ff", or NULL
 */
char *
hearth_mac_normalize (const char *text)
{
  guint8 bytes[6];
  gsize len;
  gsize step;
  char separator = '\0';
  gboolean all_zero = TRUE;

  if (text == NULL)
    return NULL;
  len = strlen (text);
  if (len == 12) {
    step = 2;
  } else if (len == 17 && (text[2] == ':' || text[2] == '-')) {
    step = 3;
    separator = text[2];
  } else {
    return NULL;
  }

  for (guint i = 0; i < 6; i++) {
    const char *p = text + i * step;
    int hi = g_ascii_xdigit_value (p[0]);
    int lo = g_ascii_xdigit_value (p[1]);

    if (hi < 0 || lo < 0)
      return NULL;
    if (separator != '\0' && i < 5 && p[2] != separator)
      return NULL;
    bytes[i] = (guint8) (hi << 4 | lo);
    all_zero = all_zero && bytes[i] == 0;
  }

  /* Neither names one device: all zeros is "unknown", and a group
   * (multicast or broadcast) address is shared by design. */
  if (all_zero || (bytes[0] & 0x01) != 0)
    return NULL;

  return g_strdup_printf ("%02x:%02x:%02x:%02x:%02x:%02x", bytes[0],
                          bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]);
}

void
hearth_evidence_clear (HearthEvidence *evidence)
{
  if (evidence == NULL)
    return;
  g_clear_pointer (&evidence->txt_id, g_free);
  g_clear_pointer (&evidence->serial, g_free);
  g_clear_pointer (&evidence->mac, g_free);
  g_clear_pointer (&evidence->model, g_free);
  g_clear_pointer (&evidence->maker, g_free);
}

void
hearth_resolved_clear (HearthResolved *resolved)
{
  if (resolved == NULL)
    return;
  g_clear_pointer (&resolved->url, g_free);
  g_clear_pointer (&resolved->sub_url, g_free);
  g_clear_pointer (&resolved->service_url, g_free);
  hearth_evidence_clear (&resolved->evidence);
}
