/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pairing QR payload: one URI that tells a display how to reach a
 * gateway's pairing listener and which certificate to pin, in two forms:
 *
 *   hearth://pair?v=1&fp=<64 hex>&a=<host:port>[&a=...][&s=<host:port>...]&t=<32 hex>&n=<name>
 *   https://<host:port>/pair?v=1&fp=<64 hex>[&a=<host:port>...][&s=<host:port>...]&t=<32 hex>&n=<name>
 *
 * a= are the pairing listener's addresses, s= the stream port's (optional:
 * a display that finds the pairing port closed tells "no window is open, the
 * code was used or expired" from "the gateway is unreachable" by them).
 *
 * The https:// form is the link a phone's camera app opens in a browser (the
 * pairing listener serves a page there); its authority is the first address
 * and any "a" parameters are the others. pairing.c formats both for a
 * pairing window; hearth-display parses what it scanned or was pasted, in
 * either form. The text comes from a camera image or a person, so
 * parsing treats it as hostile: every part has a limit, and every refusal is
 * HEARTH_ERROR_INVALID with a message naming the part. The URI structure and
 * the percent-decoding are GLib's (GUri, GUriParamsIter, GNetworkAddress).
 */
#define G_LOG_DOMAIN "hearth-payload"

#include "payload.h"

#include <string.h>

#include <gio/gio.h>

#include "error.h"

#define SCHEME "hearth"
#define HOST "pair"
#define LINK_SCHEME "https"
#define LINK_PATH "/pair"
#define FINGERPRINT_HEX 64
#define TOKEN_HEX 32
#define MAX_HOSTNAME 253

/**
 * hearth_payload_new:
 *
 * Returns: (transfer full): an empty payload, with an empty address array.
 */
HearthPayload *
hearth_payload_new (void)
{
  HearthPayload *payload = g_new0 (HearthPayload, 1);

  payload->addresses = g_ptr_array_new_with_free_func (g_free);
  payload->stream_addresses = g_ptr_array_new_with_free_func (g_free);
  return payload;
}

/**
 * hearth_payload_free:
 * @payload: (nullable) (transfer full): a payload
 *
 * Frees the payload and everything it holds.
 */
void
hearth_payload_free (HearthPayload *payload)
{
  if (payload == NULL)
    return;
  g_free (payload->fingerprint);
  g_clear_pointer (&payload->addresses, g_ptr_array_unref);
  g_clear_pointer (&payload->stream_addresses, g_ptr_array_unref);
  g_free (payload->token);
  g_free (payload->name);
  g_free (payload);
}

/* The query of either form, with the addresses from @first_address on. */
static char *
format_query (const HearthPayload *payload, guint first_address)
{
  g_autoptr (GString) query = g_string_new (NULL);
  g_autofree char *fingerprint = g_ascii_strdown (payload->fingerprint, -1);
  g_autofree char *token = g_ascii_strdown (payload->token, -1);
  g_autofree char *name = g_uri_escape_string (payload->name != NULL ? payload->name : "",
                                               NULL, FALSE);

  g_string_append_printf (query, "v=%d&fp=%s", HEARTH_PAYLOAD_VERSION, fingerprint);
  for (guint i = first_address; i < payload->addresses->len; i++) {
    g_autofree char *address = g_uri_escape_string (g_ptr_array_index (payload->addresses, i),
                                                    "[]:", FALSE);

    g_string_append_printf (query, "&a=%s", address);
  }
  for (guint i = 0; payload->stream_addresses != NULL && i < payload->stream_addresses->len; i++) {
    g_autofree char *address = g_uri_escape_string (g_ptr_array_index (payload->stream_addresses, i),
                                                    "[]:", FALSE);

    g_string_append_printf (query, "&s=%s", address);
  }
  g_string_append_printf (query, "&t=%s&n=%s", token, name);
  return g_string_free (g_steal_pointer (&query), FALSE);
}

/**
 * hearth_payload_format:
 * @payload: a payload with a fingerprint, a token and at least one address
 *
 * Formats the payload as one URI line. Addresses keep their brackets and
 * colons readable ("[fe80::1%25eth0]:8444"); the name is percent-encoded.
 * Hex is written in lowercase. A missing name is written as an empty one.
 *
 * Returns: (transfer full): the payload text.
 */
char *
hearth_payload_format (const HearthPayload *payload)
{
  g_autofree char *query = NULL;

  g_return_val_if_fail (payload != NULL, NULL);
  g_return_val_if_fail (payload->fingerprint != NULL, NULL);
  g_return_val_if_fail (payload->token != NULL, NULL);
  g_return_val_if_fail (payload->addresses != NULL, NULL);

  query = format_query (payload, 0);
  return g_uri_join (G_URI_FLAGS_ENCODED_QUERY, SCHEME, NULL, HOST, -1, "", query, NULL);
}

/**
 * hearth_payload_format_link:
 * @payload: a payload with a fingerprint, a token and at least one address
 *
 * Formats the payload as the https:// link a phone's camera app opens: the
 * first address is the link's host and port, the others follow as "a"
 * parameters; the rest is as in hearth_payload_format().
 *
 * Returns: (transfer full): the link.
 */
char *
hearth_payload_format_link (const HearthPayload *payload)
{
  g_autofree char *query = NULL;
  g_autofree char *authority = NULL;

  g_return_val_if_fail (payload != NULL, NULL);
  g_return_val_if_fail (payload->fingerprint != NULL, NULL);
  g_return_val_if_fail (payload->token != NULL, NULL);
  g_return_val_if_fail (payload->addresses != NULL && payload->addresses->len > 0, NULL);

  query = format_query (payload, 1);
  authority = g_uri_escape_string (g_ptr_array_index (payload->addresses, 0), "[]:", FALSE);
  return g_strdup_printf (LINK_SCHEME "://%s" LINK_PATH "?%s", authority, query);
}

static gboolean
invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID, "Pairing payload: %s", message);
  return FALSE;
}

/* A hostname in its ASCII form: letters, digits, '-' and '.'. */
static gboolean
is_hostname (const char *host)
{
  gsize len = strlen (host);

  if (len == 0 || len > MAX_HOSTNAME || host[0] == '.' || host[0] == '-')
    return FALSE;
  for (const char *p = host; *p != '\0'; p++) {
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;
  }
  return TRUE;
}

/* An IPv6 literal, optionally with a zone ("fe80::1%eth0"). */
static gboolean
is_ipv6_literal (const char *host)
{
  g_autofree char *address = g_strdup (host);
  char *zone = strchr (address, '%');
  g_autoptr (GInetAddress) inet = NULL;

  if (zone != NULL) {
    *zone++ = '\0';
    if (*zone == '\0')
      return FALSE;
    for (const char *p = zone; *p != '\0'; p++) {
      if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
        return FALSE;
    }
  }
  inet = g_inet_address_new_from_string (address);
  return inet != NULL && g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6;
}

/**
 * hearth_payload_split_address:
 * @address: "host:port", or "[v6]:port" for an IPv6 address (a zone may
 *   follow the address inside the brackets: "[fe80::1%eth0]:8444")
 * @host: (out) (optional) (transfer full): the host, without brackets
 * @port: (out) (optional): the port
 * @error: return location for a #GError
 *
 * Splits and checks one pairing address. The port is required, numeric and
 * 1..65535; the host is an IPv4 address, a bracketed IPv6 address or a
 * hostname.
 *
 * Returns: %TRUE on success, else %FALSE with %HEARTH_ERROR_INVALID.
 */
gboolean
hearth_payload_split_address (const char *address,
                              char **host,
                              guint16 *port,
                              GError **error)
{
  g_autoptr (GSocketConnectable) parsed = NULL;
  g_autofree char *shown = NULL;
  const char *hostname, *colon, *bracket;
  guint64 port_number;

  g_return_val_if_fail (address != NULL, FALSE);

  /* Messages quote the address, and it came from outside: escape it so it
   * cannot carry control characters to a terminal. */
  shown = g_strescape (address, NULL);

  /* GNetworkAddress reads a missing port as 0 and looks a service name up;
   * here the port is always written, as a number. */
  colon = strrchr (address, ':');
  bracket = strrchr (address, ']');
  if (colon == NULL || (bracket != NULL && colon < bracket))
    return invalid (error, "address “%s”: the port is missing", shown);
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 1, G_MAXUINT16, &port_number, NULL))
    return invalid (error, "address “%s”: the port must be a number from 1 to 65535", shown);

  /* GLib's own message would quote the raw text. */
  parsed = g_network_address_parse (address, 0, NULL);
  if (parsed == NULL)
    return invalid (error, "address “%s”: it is not host:port or [address]:port", shown);
  hostname = g_network_address_get_hostname (G_NETWORK_ADDRESS (parsed));

  if (address[0] != '[' && strchr (hostname, ':') != NULL)
    return invalid (error, "address “%s”: an IPv6 address must be in brackets, as [address]:port",
                    shown);

  if (*hostname == '\0')
    return invalid (error, "address “%s”: the host is empty", shown);
  if (address[0] == '[') {
    if (!is_ipv6_literal (hostname))
      return invalid (error, "address “%s”: the host in brackets is not an IPv6 address", shown);
  } else if (!g_hostname_is_ip_address (hostname) && !is_hostname (hostname)) {
    return invalid (error, "address “%s”: the host is not an IP address or a host name", shown);
  }

  if (host != NULL)
    *host = g_strdup (hostname);
  if (port != NULL)
    *port = (guint16) port_number;
  return TRUE;
}

/* @text is @digits hex digits, either case; stored in lowercase. */
static gboolean
take_hex (const char *what, const char *param, const char *text, gsize digits,
          char **out, GError **error)
{
  if (text == NULL)
    return invalid (error, "the %s (%s) is missing", what, param);
  if (strlen (text) != digits)
    return invalid (error, "the %s (%s) must be %" G_GSIZE_FORMAT " hex digits, not %" G_GSIZE_FORMAT,
                    what, param, digits, strlen (text));
  for (const char *p = text; *p != '\0'; p++) {
    if (!g_ascii_isxdigit (*p))
      return invalid (error, "the %s (%s) must be %" G_GSIZE_FORMAT " hex digits",
                      what, param, digits);
  }
  *out = g_ascii_strdown (text, -1);
  return TRUE;
}

static gboolean
check_name (const char *name, GError **error)
{
  if (strlen (name) > HEARTH_PAYLOAD_MAX_NAME)
    return invalid (error, "the name (n) is longer than %d bytes", HEARTH_PAYLOAD_MAX_NAME);
  /* Parameters were checked as UTF-8 when they were decoded. */
  for (const char *p = name; *p != '\0'; p = g_utf8_next_char (p)) {
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return invalid (error, "the name (n) contains a control character");
  }
  return TRUE;
}

/* Takes the value of a parameter that may appear only once. */
static gboolean
take_once (const char *param, char **slot, char **value, GError **error)
{
  if (*slot != NULL)
    return invalid (error, "the parameter “%s” appears more than once", param);
  *slot = g_steal_pointer (value);
  return TRUE;
}

/**
 * hearth_payload_parse:
 * @text: the scanned or pasted payload
 * @error: return location for a #GError
 *
 * Parses and checks a pairing payload, in the hearth:// or the https:// form
 * (where the link's host and port are the first address). Unknown parameters
 * are ignored; a
 * missing name reads as an empty one. Hex may be in either case and comes out
 * in lowercase.
 *
 * Returns: (transfer full): the payload, or %NULL with %HEARTH_ERROR_INVALID
 *   naming the bad part.
 */
HearthPayload *
hearth_payload_parse (const char *text, GError **error)
{
  g_autoptr (HearthPayload) payload = hearth_payload_new ();
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *version = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *token = NULL;
  g_autofree char *name = NULL;
  GUriParamsIter iter;
  char *param, *value;
  const char *query;
  gsize len;

  if (text == NULL || *text == '\0') {
    invalid (error, "it is empty");
    return NULL;
  }
  len = strlen (text);
  if (len > HEARTH_PAYLOAD_MAX_LEN) {
    invalid (error, "it is %" G_GSIZE_FORMAT " bytes long, more than %d", len,
             HEARTH_PAYLOAD_MAX_LEN);
    return NULL;
  }
  if (!g_utf8_validate (text, len, NULL)) {
    invalid (error, "it is not valid UTF-8");
    return NULL;
  }

  uri = g_uri_parse (text, G_URI_FLAGS_ENCODED_QUERY, &local_error);
  if (uri == NULL) {
    invalid (error, "it is not a URI: %s", local_error->message);
    return NULL;
  }
  if (g_strcmp0 (g_uri_get_scheme (uri), LINK_SCHEME) == 0) {
    /* The link's own host and port are its first address. */
    const char *host = g_uri_get_host (uri);

    if (host == NULL || *host == '\0' || g_uri_get_userinfo (uri) != NULL ||
        g_uri_get_port (uri) <= 0 || g_strcmp0 (g_uri_get_path (uri), LINK_PATH) != 0 ||
        g_uri_get_fragment (uri) != NULL) {
      invalid (error, "it is not a “" LINK_SCHEME "://host:port" LINK_PATH "?…” link");
      return NULL;
    }
    g_ptr_array_add (payload->addresses,
                     g_strdup_printf (strchr (host, ':') != NULL ? "[%s]:%d" : "%s:%d",
                                      host, g_uri_get_port (uri)));
  } else if (g_strcmp0 (g_uri_get_scheme (uri), SCHEME) != 0) {
    invalid (error, "the scheme is “%s”, not “" SCHEME "” or “" LINK_SCHEME "”",
             g_uri_get_scheme (uri));
    return NULL;
  } else if (g_uri_get_host (uri) == NULL || g_ascii_strcasecmp (g_uri_get_host (uri), HOST) != 0 ||
             g_uri_get_userinfo (uri) != NULL || g_uri_get_port (uri) != -1 ||
             *g_uri_get_path (uri) != '\0') {
    invalid (error, "it is not a “" SCHEME "://" HOST "” URI");
    return NULL;
  }
  query = g_uri_get_query (uri);
  if (query == NULL) {
    invalid (error, "it has no parameters");
    return NULL;
  }

  /* An iterator, not g_uri_parse_params(): "a" may repeat, and a hash table
   * would keep only one of them. Values come out percent-decoded and checked
   * as UTF-8. */
  g_uri_params_iter_init (&iter, query, -1, "&", G_URI_PARAMS_NONE);
  while (g_uri_params_iter_next (&iter, &param, &value, &local_error)) {
    g_autofree char *p = param;
    g_autofree char *v = value;
    gboolean ok = TRUE;

    if (strcmp (p, "v") == 0) {
      ok = take_once (p, &version, &v, error);
    } else if (strcmp (p, "fp") == 0) {
      ok = take_once (p, &fingerprint, &v, error);
    } else if (strcmp (p, "t") == 0) {
      ok = take_once (p, &token, &v, error);
    } else if (strcmp (p, "n") == 0) {
      ok = take_once (p, &name, &v, error);
    } else if (strcmp (p, "a") == 0) {
      if (payload->addresses->len == HEARTH_PAYLOAD_MAX_ADDRESSES) {
        invalid (error, "it has more than %d addresses (a)", HEARTH_PAYLOAD_MAX_ADDRESSES);
        return NULL;
      }
      g_ptr_array_add (payload->addresses, g_steal_pointer (&v));
    } else if (strcmp (p, "s") == 0) {
      if (payload->stream_addresses->len == HEARTH_PAYLOAD_MAX_ADDRESSES) {
        invalid (error, "it has more than %d stream addresses (s)", HEARTH_PAYLOAD_MAX_ADDRESSES);
        return NULL;
      }
      g_ptr_array_add (payload->stream_addresses, g_steal_pointer (&v));
    }
    if (!ok)
      return NULL;
  }
  if (local_error != NULL) {
    invalid (error, "bad parameters: %s", local_error->message);
    return NULL;
  }

  if (version == NULL) {
    invalid (error, "the version (v) is missing");
    return NULL;
  }
  if (strcmp (version, G_STRINGIFY (HEARTH_PAYLOAD_VERSION)) != 0) {
    g_autofree char *shown = g_strescape (version, NULL);

    invalid (error, "version (v) “%s” is not supported, only %d", shown,
             HEARTH_PAYLOAD_VERSION);
    return NULL;
  }
  if (!take_hex ("fingerprint", "fp", fingerprint, FINGERPRINT_HEX, &payload->fingerprint, error) ||
      !take_hex ("token", "t", token, TOKEN_HEX, &payload->token, error))
    return NULL;
  if (payload->addresses->len == 0) {
    invalid (error, "it has no address (a)");
    return NULL;
  }
  for (guint i = 0; i < payload->addresses->len; i++) {
    if (!hearth_payload_split_address (g_ptr_array_index (payload->addresses, i),
                                       NULL, NULL, error))
      return NULL;
  }
  for (guint i = 0; i < payload->stream_addresses->len; i++) {
    g_autoptr (GError) address_error = NULL;
    const char *why;

    if (hearth_payload_split_address (g_ptr_array_index (payload->stream_addresses, i),
                                      NULL, NULL, &address_error))
      continue;
    why = address_error->message;
    if (g_str_has_prefix (why, "Pairing payload: "))
      why += strlen ("Pairing payload: ");
    invalid (error, "stream (s) %s", why);
    return NULL;
  }
  if (name == NULL)
    name = g_strdup ("");
  if (!check_name (name, error))
    return NULL;
  payload->name = g_steal_pointer (&name);

  return g_steal_pointer (&payload);
}
