/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * onvif: cameras that speak ONVIF (Profile S), found by WS-Discovery.
 *
 * Discovers: ONVIF NetworkVideoTransmitters on the local networks, by its
 * own discovery (plugin ABI 2, discovery type "onvif"): a UDP socket on
 * port 3702 joined to 239.255.255.250 on every local IPv4 interface hears
 * Hello and Bye; another, on an ephemeral port, sends a Probe for
 * tdn:NetworkVideoTransmitter at start, 3 s later and every 60 s, and takes
 * a ProbeMatch only when it relates to a Probe it sent (wsa:RelatesTo = one
 * of our MessageIDs). Multicast TTL is 1: nothing is routed off the link.
 * Devices whose Types lack NetworkVideoTransmitter (a Windows or Samba
 * computer's wsdd announces pub:Computer) are ignored. A camera that
 * answered none of three Probes and said nothing since (unplugged: no Bye)
 * is withdrawn. Each camera is
 * reported with its endpoint reference (its ONVIF UUID) as id and evidence
 * (txt_id), its device service address (the first http:// XAddr whose host
 * is the numeric address the message came from: a device cannot announce
 * itself at another device's address) as address and port, its maker and model from the Scopes (onvif://www.onvif.org/name/…,
 * …/hardware/…, …/mfr/…). The gateway checks the address is local before
 * anyone sees it.
 *
 * URLs: resolved at adoption and after an address change, with the
 * camera's credentials, through the device service (SOAP 1.2 over HTTP):
 * GetSystemDateAndTime (the device's clock, for the token's Created),
 * GetCapabilities (the media service address), GetDeviceInformation
 * (maker, model, serial → evidence), GetNetworkInterfaces (MAC → evidence),
 * GetProfiles and GetStreamUri (RTP-Unicast over RTSP) → the main URL (the
 * largest profile, the first on a tie) and the sub URL (the smallest
 * other). Requests carry a WS-Security UsernameToken with PasswordDigest =
 * Base64 (SHA-1 (nonce + created + password)) as ONVIF requires; a device
 * that answers 401 with an HTTP Digest challenge gets Digest (libsoup's
 * SoupAuthDigest; never Basic, which would send the password in clear). A
 * ter:NotAuthorized fault, or a 401 after the credentials were given, is
 * HEARTH_PLUGIN_ERROR_NOT_AUTHORIZED. Every address the plugin connects to
 * must be the device's own (the reported address); the gateway checks the
 * stream URLs again (local, and the device's address) before using them.
 *
 * Options: none. Example: a camera saying Hello with XAddrs
 * http://192.168.1.40/onvif/device_service and Scopes
 * onvif://www.onvif.org/name/Acme onvif://www.onvif.org/hardware/C100 is
 * listed as Acme C100 at 192.168.1.40:80; `hearthctl camera adopt ID
 * --household Home --user admin --password-file pw` asks it for its stream
 * URIs (e.g. rtsp://192.168.1.40:554/main and /sub).
 *
 * Why written here rather than with Debian's libonvif (1.4.4): its calls
 * block (sockets with timeouts, in the caller's thread), it keeps a
 * process-wide discovery session with fixed 128 × 8 KiB buffers and
 * fixed-size string fields, probes from one interface only, hears no
 * Hello/Bye, has no HTTP Digest, no TLS and speaks HTTP by hand. hearthd's
 * main thread must never block and every connection must pass the
 * gateway's egress gate (GIO's default proxy resolver), which libsoup
 * does. So the SOAP is written by hand, here and nowhere else: libsoup 3
 * for HTTP (and Digest), libxml2 for parsing, GIO for the UDP sockets.
 *
 * Everything that comes from the network is hostile: datagrams and answers
 * are size-limited (64 KiB, 1 MiB) before parsing; libxml2 parses with no
 * network access (XML_PARSE_NONET), no DTD loading and no entity
 * substitution, and a document with any DTD is refused outright (no entity
 * expansion at all); elements are looked up by namespace URI and local
 * name, never by prefix. At most 256 devices are tracked.
 *
 * Threads: everything on the main context of hearthd (the thread-default
 * context when discovery_start or resolve_async is called). No global
 * state: each discovery and each resolution owns what it uses.
 */
#define G_LOG_DOMAIN "hearth-plugin-onvif"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <libsoup/soup.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "hearth-plugin.h"
#include "onvif.h"

#define DISCOVERY_TYPE "onvif"
#define WSD_PORT 3702
#define WSD_GROUP "239.255.255.250"
#define PROBE_INTERVAL_S 60
#define PROBE_AGAIN_S 3
/* Three Probes unanswered: gone. */
#define EXPIRE_S (3 * PROBE_INTERVAL_S + 10)
#define MAX_DEVICES 256
#define MAX_SENT_PROBES 4
#define MAX_PROFILES 32
#define HTTP_TIMEOUT_S 10
#define MAX_NAME_BYTES 63

#define NS_SOAP "http://www.w3.org/2003/05/soap-envelope"
#define NS_WSA "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define NS_WSD "http://schemas.xmlsoap.org/ws/2005/04/discovery"
#define NS_DN "http://www.onvif.org/ver10/network/wsdl"
#define NS_TDS "http://www.onvif.org/ver10/device/wsdl"
#define NS_TRT "http://www.onvif.org/ver10/media/wsdl"
#define NS_TT "http://www.onvif.org/ver10/schema"
#define NS_WSSE "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define NS_WSU "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define WSSE_DIGEST "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
#define WSSE_BASE64 "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

/* --- XML, safely ----------------------------------------------------------------- */

typedef xmlDoc OnvifDoc;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (OnvifDoc, xmlFreeDoc)

static void
set_invalid (GError **error, const char *message)
{
  g_set_error_literal (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID, message);
}

/* @data as an XML document, or NULL: too large, not well-formed, or with a
 * DTD (a document type declaration has no place in SOAP, and refusing it
 * refuses every entity). */
static xmlDoc *
parse_xml (const char *data, gsize len, gsize max, GError **error)
{
  xmlDoc *doc;

  if (len > max) {
    set_invalid (error, "The device's answer is too large");
    return NULL;
  }
  if (len == 0 || len > G_MAXINT) {
    set_invalid (error, "The device's answer is empty");
    return NULL;
  }
  doc = xmlReadMemory (data, (int) len, "onvif.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                       XML_PARSE_NOCDATA);
  if (doc == NULL) {
    set_invalid (error, "The device's answer is not XML");
    return NULL;
  }
  if (doc->intSubset != NULL || doc->extSubset != NULL) {
    xmlFreeDoc (doc);
    set_invalid (error, "The device's answer holds a document type declaration");
    return NULL;
  }
  return doc;
}

static gboolean
node_is (const xmlNode *node, const char *ns, const char *name)
{
  return node != NULL && node->type == XML_ELEMENT_NODE && node->ns != NULL &&
         g_strcmp0 ((const char *) node->ns->href, ns) == 0 &&
         g_strcmp0 ((const char *) node->name, name) == 0;
}

static xmlNode *
child (const xmlNode *parent, const char *ns, const char *name)
{
  for (xmlNode *n = parent ? parent->children : NULL; n != NULL; n = n->next)
    if (node_is (n, ns, name))
      return n;
  return NULL;
}

/* The first descendant of @parent (depth first, at most 32 levels). */
static xmlNode *
descendant (const xmlNode *parent, const char *ns, const char *name, guint depth)
{
  if (parent == NULL || depth > 32)
    return NULL;
  for (xmlNode *n = parent->children; n != NULL; n = n->next) {
    xmlNode *found;

    if (n->type != XML_ELEMENT_NODE)
      continue;
    if (node_is (n, ns, name))
      return n;
    if ((found = descendant (n, ns, name, depth + 1)) != NULL)
      return found;
  }
  return NULL;
}

/* The element's text, stripped; NULL when empty or not UTF-8 text without
 * control characters. (transfer full) */
static char *
node_text (const xmlNode *node, gsize max)
{
  xmlChar *content;
  g_autofree char *text = NULL;

  if (node == NULL)
    return NULL;
  content = xmlNodeGetContent (node);
  if (content == NULL)
    return NULL;
  text = g_strstrip (g_strdup ((const char *) content));
  xmlFree (content);
  if (text[0] == '\0' || strlen (text) > max || !g_utf8_validate (text, -1, NULL))
    return NULL;
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    /* Whitespace inside lists (XAddrs, Scopes, Types) becomes a space. */
    if (c == '\n' || c == '\r' || c == '\t')
      continue;
    if (g_unichar_iscntrl (c) || g_unichar_type (c) == G_UNICODE_FORMAT)
      return NULL;
  }
  for (char *p = text; *p != '\0'; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t')
      *p = ' ';
  return g_steal_pointer (&text);
}

/* The SOAP 1.2 Body of @doc, or NULL. */
static xmlNode *
soap_body (xmlDoc *doc, xmlNode **header)
{
  xmlNode *root = xmlDocGetRootElement (doc);

  if (!node_is (root, NS_SOAP, "Envelope"))
    return NULL;
  if (header != NULL)
    *header = child (root, NS_SOAP, "Header");
  return child (root, NS_SOAP, "Body");
}

/* Whether the QName @qname, read in @context's scope, is {@ns}@local. */
static gboolean
qname_is (xmlDoc *doc, xmlNode *context, const char *qname, const char *ns,
          const char *local)
{
  const char *colon = strchr (qname, ':');
  g_autofree char *prefix = colon ? g_strndup (qname, colon - qname) : NULL;
  const char *name = colon ? colon + 1 : qname;
  xmlNs *found;

  if (g_strcmp0 (name, local) != 0)
    return FALSE;
  found = xmlSearchNs (doc, context, (const xmlChar *) prefix);
  return found != NULL && g_strcmp0 ((const char *) found->href, ns) == 0;
}

/* --- SOAP faults ------------------------------------------------------------------ */

/* A SOAP Fault's error, or FALSE when @body holds none. */
static gboolean
check_fault (xmlDoc *doc, xmlNode *body, GError **error)
{
  xmlNode *fault = child (body, NS_SOAP, "Fault");
  gboolean refused = FALSE;
  g_autofree char *reason = NULL;

  if (fault == NULL)
    return FALSE;
  /* Code/Value, Code/Subcode/Value, …: a NotAuthorized anywhere in it (ONVIF
   * ter:NotAuthorized, or a device's own namespace for it). */
  for (xmlNode *code = child (fault, NS_SOAP, "Code"); code != NULL && !refused;
       code = child (code, NS_SOAP, "Subcode")) {
    g_autofree char *value = node_text (child (code, NS_SOAP, "Value"), 256);
    const char *colon = value ? strrchr (value, ':') : NULL;

    (void) doc;
    refused = value != NULL &&
              (g_ascii_strcasecmp (colon ? colon + 1 : value, "NotAuthorized") == 0 ||
               g_ascii_strcasecmp (colon ? colon + 1 : value, "FailedAuthentication") == 0);
  }
  if (refused) {
    g_set_error_literal (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_NOT_AUTHORIZED,
                         "the camera refused the user name or password");
    return TRUE;
  }
  reason = node_text (descendant (fault, NS_SOAP, "Text", 0), 200);
  /* The text is the device's: shown only as far as it is plain text. */
  g_set_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_FAILED,
               "the camera answered with a SOAP fault%s%s", reason ? ": " : "",
               reason ? reason : "");
  return TRUE;
}

/* The Body of an answer, or NULL with @error (a fault, or not SOAP). */
static xmlNode *
answer_body (xmlDoc *doc, GError **error)
{
  xmlNode *body = soap_body (doc, NULL);

  if (body == NULL) {
    set_invalid (error, "The device's answer is not a SOAP 1.2 envelope");
    return NULL;
  }
  if (check_fault (doc, body, error))
    return NULL;
  return body;
}

/* --- WS-Discovery messages ---------------------------------------------------------- */

void
onvif_message_free (OnvifMessage *message)
{
  if (message == NULL)
    return;
  g_free (message->relates_to);
  g_clear_pointer (&message->devices, g_ptr_array_unref);
  g_free (message);
}

static void
device_free (OnvifDevice *device)
{
  g_free (device->epr);
  g_free (device->xaddrs);
  g_free (device->name);
  g_free (device->hardware);
  g_free (device->maker);
  g_free (device);
}

/* "onvif://www.onvif.org/name/Acme%20Cam" → "Acme Cam", for @kind "name". */
static char *
scope_value (const char *scopes, const char *kind)
{
  g_auto (GStrv) list = g_strsplit (scopes, " ", 64);
  g_autofree char *prefix = g_strdup_printf ("onvif://www.onvif.org/%s/", kind);

  for (guint i = 0; list[i] != NULL; i++) {
    g_autofree char *raw = NULL;
    g_autofree char *value = NULL;

    if (g_ascii_strncasecmp (list[i], prefix, strlen (prefix)) != 0)
      continue;
    raw = g_strdup (list[i] + strlen (prefix));
    /* A trailing path is another level of the scope: keep the first. */
    if (strchr (raw, '/') != NULL)
      *strchr (raw, '/') = '\0';
    value = g_uri_unescape_string (raw, NULL);
    if (value == NULL || !g_utf8_validate (value, -1, NULL))
      continue;
    for (char *p = value; *p != '\0'; p++)
      if (*p == '_' )
        *p = ' ';
    g_strstrip (value);
    if (value[0] == '\0')
      continue;
    for (const char *p = value; *p != '\0'; p = g_utf8_next_char (p)) {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c) || g_unichar_type (c) == G_UNICODE_FORMAT)
        return NULL;
    }
    return g_steal_pointer (&value);
  }
  return NULL;
}

/* Whether the Types list read in @node's scope names NetworkVideoTransmitter. */
static gboolean
types_have_camera (xmlDoc *doc, xmlNode *node)
{
  g_autofree char *types = node_text (node, 4096);
  g_auto (GStrv) list = NULL;

  if (types == NULL)
    return FALSE;
  list = g_strsplit (types, " ", 64);
  for (guint i = 0; list[i] != NULL; i++)
    if (qname_is (doc, node, list[i], NS_DN, "NetworkVideoTransmitter"))
      return TRUE;
  return FALSE;
}

static OnvifDevice *
parse_device (xmlDoc *doc, xmlNode *node)
{
  xmlNode *epr = child (node, NS_WSA, "EndpointReference");
  OnvifDevice *device;
  g_autofree char *address = node_text (child (epr, NS_WSA, "Address"), 256);
  g_autofree char *scopes = NULL;

  if (address == NULL)
    return NULL;
  device = g_new0 (OnvifDevice, 1);
  device->epr = g_steal_pointer (&address);
  device->is_camera = types_have_camera (doc, child (node, NS_WSD, "Types"));
  device->xaddrs = node_text (child (node, NS_WSD, "XAddrs"), 4096);
  scopes = node_text (child (node, NS_WSD, "Scopes"), 8192);
  if (scopes != NULL) {
    device->name = scope_value (scopes, "name");
    device->hardware = scope_value (scopes, "hardware");
    device->maker = scope_value (scopes, "mfr");
    if (device->maker == NULL)
      device->maker = scope_value (scopes, "manufacturer");
  }
  return device;
}

/**
 * onvif_parse_discovery:
 *
 * Returns: (transfer full) (nullable): the message
 */
OnvifMessage *
onvif_parse_discovery (const char *data, gsize len, GError **error)
{
  g_autoptr (OnvifDoc) doc = parse_xml (data, len, ONVIF_MAX_DATAGRAM, error);
  g_autoptr (OnvifMessage) message = NULL;
  xmlNode *header = NULL;
  xmlNode *body;
  xmlNode *n;

  if (doc == NULL)
    return NULL;
  body = soap_body (doc, &header);
  if (body == NULL) {
    set_invalid (error, "not a SOAP 1.2 envelope");
    return NULL;
  }
  message = g_new0 (OnvifMessage, 1);
  message->devices = g_ptr_array_new_with_free_func ((GDestroyNotify) device_free);
  message->relates_to = node_text (child (header, NS_WSA, "RelatesTo"), 256);

  if ((n = child (body, NS_WSD, "Hello")) != NULL) {
    message->kind = ONVIF_MESSAGE_HELLO;
  } else if ((n = child (body, NS_WSD, "Bye")) != NULL) {
    message->kind = ONVIF_MESSAGE_BYE;
  } else if ((n = child (body, NS_WSD, "ProbeMatches")) != NULL) {
    message->kind = ONVIF_MESSAGE_PROBE_MATCHES;
  } else {
    message->kind = ONVIF_MESSAGE_OTHER;
    return g_steal_pointer (&message);
  }

  if (message->kind == ONVIF_MESSAGE_PROBE_MATCHES) {
    for (xmlNode *m = n->children; m != NULL && message->devices->len < 16; m = m->next) {
      OnvifDevice *device;

      if (!node_is (m, NS_WSD, "ProbeMatch"))
        continue;
      device = parse_device (doc, m);
      if (device != NULL)
        g_ptr_array_add (message->devices, device);
    }
  } else {
    OnvifDevice *device = parse_device (doc, n);

    if (device != NULL)
      g_ptr_array_add (message->devices, device);
  }
  if (message->devices->len == 0) {
    set_invalid (error, "the message names no device (no endpoint reference)");
    return NULL;
  }
  return g_steal_pointer (&message);
}

/* Host and port of an http:// URL to a numeric IPv4 address; else FALSE. */
static gboolean
http_endpoint (const char *url, char **host, guint16 *port)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  g_autoptr (GInetAddress) address = NULL;
  int p;

  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 ||
      g_uri_get_userinfo (uri) != NULL || g_uri_get_host (uri) == NULL)
    return FALSE;
  address = g_inet_address_new_from_string (g_uri_get_host (uri));
  if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV4)
    return FALSE;
  p = g_uri_get_port (uri);
  if (host != NULL)
    *host = g_inet_address_to_string (address);
  if (port != NULL)
    *port = (guint16) (p > 0 ? p : 80);
  return TRUE;
}

/**
 * onvif_pick_xaddr:
 *
 * Returns: (transfer full) (nullable): the device service URL to use
 */
char *
onvif_pick_xaddr (const char *xaddrs, const char *from)
{
  g_auto (GStrv) list = NULL;

  if (xaddrs == NULL)
    return NULL;
  list = g_strsplit (xaddrs, " ", 16);
  for (guint i = 0; list[i] != NULL; i++) {
    g_autofree char *host = NULL;

    if (!http_endpoint (list[i], &host, NULL))
      continue;
    if (from == NULL || g_strcmp0 (host, from) == 0)
      return g_strdup (list[i]);
  }
  return NULL;
}

/* --- WS-Security ------------------------------------------------------------------ */

/**
 * onvif_password_digest:
 *
 * Returns: (transfer full): Base64 (SHA-1 (@nonce + @created + @password))
 */
char *
onvif_password_digest (const guint8 *nonce, gsize nonce_len, const char *created,
                       const char *password)
{
  g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  guint8 digest[20];
  gsize digest_len = sizeof digest;
  char *out;

  g_checksum_update (sha1, nonce, (gssize) nonce_len);
  g_checksum_update (sha1, (const guchar *) created, (gssize) strlen (created));
  g_checksum_update (sha1, (const guchar *) password, (gssize) strlen (password));
  g_checksum_get_digest (sha1, digest, &digest_len);
  out = g_base64_encode (digest, digest_len);
  explicit_bzero (digest, sizeof digest);
  return out;
}

/* The SOAP envelope for @body, with a UsernameToken when @user is set.
 * (transfer full) */
static char *
build_envelope (const char *body, const char *user, const char *password,
                gint64 clock_offset)
{
  g_autofree char *header = NULL;

  if (user != NULL) {
    guint8 nonce[16];
    g_autoptr (GDateTime) now =
      g_date_time_new_from_unix_utc (g_get_real_time () / G_USEC_PER_SEC + clock_offset);
    g_autofree char *created = g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
    g_autofree char *digest = NULL;
    g_autofree char *nonce64 = NULL;
    g_autofree char *user_xml = g_markup_escape_text (user, -1);

    if (getrandom (nonce, sizeof nonce, 0) != (ssize_t) sizeof nonce)
      for (gsize i = 0; i < sizeof nonce; i++)
        nonce[i] = (guint8) g_random_int ();
    digest = onvif_password_digest (nonce, sizeof nonce, created,
                                    password != NULL ? password : "");
    nonce64 = g_base64_encode (nonce, sizeof nonce);
    header = g_strdup_printf (
        "<s:Header><wsse:Security s:mustUnderstand=\"1\" xmlns:wsse=\"" NS_WSSE "\" "
        "xmlns:wsu=\"" NS_WSU "\"><wsse:UsernameToken><wsse:Username>%s</wsse:Username>"
        "<wsse:Password Type=\"" WSSE_DIGEST "\">%s</wsse:Password>"
        "<wsse:Nonce EncodingType=\"" WSSE_BASE64 "\">%s</wsse:Nonce>"
        "<wsu:Created>%s</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>",
        user_xml, digest, nonce64, created);
    explicit_bzero (digest, strlen (digest));
  }
  return g_strdup_printf ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                          "<s:Envelope xmlns:s=\"" NS_SOAP "\" xmlns:tds=\"" NS_TDS "\" "
                          "xmlns:trt=\"" NS_TRT "\" xmlns:tt=\"" NS_TT "\">%s"
                          "<s:Body>%s</s:Body></s:Envelope>",
                          header ? header : "", body);
}

/* --- answers ---------------------------------------------------------------------- */

gboolean
onvif_parse_system_date_and_time (const char *data, gsize len, gint64 *offset,
                                  GError **error)
{
  g_autoptr (OnvifDoc) doc = parse_xml (data, len, ONVIF_MAX_RESPONSE, error);
  xmlNode *body = doc ? answer_body (doc, error) : NULL;
  xmlNode *utc = body ? descendant (body, NS_TT, "UTCDateTime", 0) : NULL;
  xmlNode *date = child (utc, NS_TT, "Date");
  xmlNode *time = child (utc, NS_TT, "Time");
  int v[6] = { 0 };
  const struct { xmlNode *parent; const char *name; } f[] = {
    { date, "Year" }, { date, "Month" }, { date, "Day" },
    { time, "Hour" }, { time, "Minute" }, { time, "Second" },
  };
  g_autoptr (GDateTime) then = NULL;

  if (body == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (f); i++) {
    g_autofree char *text = node_text (child (f[i].parent, NS_TT, f[i].name), 8);
    guint64 n;

    if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 0, 9999, &n, NULL)) {
      set_invalid (error, "The device did not say its UTC time");
      return FALSE;
    }
    v[i] = (int) n;
  }
  then = g_date_time_new_utc (v[0], v[1], v[2], v[3], v[4], v[5]);
  if (then == NULL) {
    set_invalid (error, "The device's UTC time is not a date");
    return FALSE;
  }
  *offset = g_date_time_to_unix (then) - g_get_real_time () / G_USEC_PER_SEC;
  return TRUE;
}

gboolean
onvif_parse_capabilities (const char *data, gsize len, char **media_xaddr, GError **error)
{
  g_autoptr (OnvifDoc) doc = parse_xml (data, len, ONVIF_MAX_RESPONSE, error);
  xmlNode *body = doc ? answer_body (doc, error) : NULL;
  xmlNode *media;

  if (body == NULL)
    return FALSE;
  media = descendant (child (body, NS_TDS, "GetCapabilitiesResponse"), NS_TT, "Media", 0);
  *media_xaddr = node_text (child (media, NS_TT, "XAddr"), 1024);
  if (*media_xaddr == NULL) {
    set_invalid (error, "The device names no media service");
    return FALSE;
  }
  return TRUE;
}

gboolean
onvif_parse_device_information (const char *data, gsize len, char **maker, char **model,
                                char **serial, GError **error)
{
  g_autoptr (OnvifDoc) doc = parse_xml (data, len, ONVIF_MAX_RESPONSE, error);
  xmlNode *body = doc ? answer_body (doc, error) : NULL;
  xmlNode *info;

  if (body == NULL)
    return FALSE;
  info = child (body, NS_TDS, "GetDeviceInformationResponse");
  if (info == NULL) {
    set_invalid (error, "The device's answer is not its information");
    return FALSE;
  }
  *maker = node_text (child (info, NS_TDS, "Manufacturer"), 64);
  *model = node_text (child (info, NS_TDS, "Model"), 64);
  *serial = node_text (child (info, NS_TDS, "SerialNumber"), 128);
  return TRUE;
}

gboolean
onvif_parse_network_interfaces (const char *data, gsize len, char **mac, GError **error)
{
  g_autoptr (OnvifDoc) doc = parse_xml (data, len, ONVIF_MAX_RESPONSE, error);
  xmlNode *body = doc ? answer_body (doc, error) : NULL;
  xmlNode *list;

  *mac = NULL;
  if (body == NULL)
    return FALSE;
  list = child (body, NS_TDS, "GetNetworkInterfacesResponse");
  for (xmlNode *n = list ? list->children : NULL; n != NULL && *mac == NULL; n = n->next) {
    g_autofree char *text = NULL;

    if (!node_is (n, NS_TDS, "NetworkInterfaces"))
      continue;
    text = node_text (child (child (n, NS_TT, "Info"), NS_TT, "HwAddress"), 32);
    *mac = hearth_mac_normalize (text);
  }
  if (*mac == NULL) {
    set_invalid (error, "The device names no MAC address");
    return FALSE;
  }
  return TRUE;
}

static void
profile_free (OnvifProfile *profile)
{
  g_free (profile->token);
  g_free (profile);
}

static guint
dimension (xmlNode *resolution, const char *name)
{
  g_autofree char *text = node_text (child (resolution, NS_TT, name), 8);
  guint64 n = 0;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 1, 65535, &n, NULL))
    return 0;
  return (guint) n;
}

gboolean
onvif_parse_profiles (const char *data, gsize len, GPtrArray **profiles, GError **error)
{
  g_autoptr (OnvifDoc) doc = parse_xml (data, len, ONVIF_MAX_RESPONSE, error);
  xmlNode *body = doc ? answer_body (doc, error) : NULL;
  xmlNode *list;
  g_autoptr (GPtrArray) out = NULL;

  if (body == NULL)
    return FALSE;
  list = child (body, NS_TRT, "GetProfilesResponse");
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) profile_free);
  for (xmlNode *n = list ? list->children : NULL; n != NULL && out->len < MAX_PROFILES;
       n = n->next) {
    xmlChar *token;
    xmlNode *resolution;
    OnvifProfile *profile;

    if (!node_is (n, NS_TRT, "Profiles"))
      continue;
    token = xmlGetNoNsProp (n, (const xmlChar *) "token");
    if (token == NULL || token[0] == '\0' || strlen ((const char *) token) > 64 ||
        !g_utf8_validate ((const char *) token, -1, NULL)) {
      xmlFree (token);
      continue;
    }
    profile = g_new0 (OnvifProfile, 1);
    profile->token = g_strdup ((const char *) token);
    xmlFree (token);
    resolution = child (child (n, NS_TT, "VideoEncoderConfiguration"), NS_TT, "Resolution");
    profile->width = dimension (resolution, "Width");
    profile->height = dimension (resolution, "Height");
    g_ptr_array_add (out, profile);
  }
  if (out->len == 0) {
    set_invalid (error, "The camera has no media profile");
    return FALSE;
  }
  *profiles = g_steal_pointer (&out);
  return TRUE;
}

gboolean
onvif_parse_stream_uri (const char *data, gsize len, char **uri, GError **error)
{
  g_autoptr (OnvifDoc) doc = parse_xml (data, len, ONVIF_MAX_RESPONSE, error);
  xmlNode *body = doc ? answer_body (doc, error) : NULL;
  xmlNode *media;

  if (body == NULL)
    return FALSE;
  media = child (child (body, NS_TRT, "GetStreamUriResponse"), NS_TRT, "MediaUri");
  *uri = node_text (child (media, NS_TT, "Uri"), 2048);
  if (*uri == NULL) {
    set_invalid (error, "The camera gave no stream URI");
    return FALSE;
  }
  return TRUE;
}

void
onvif_choose_profiles (GPtrArray *profiles, int *main_index, int *sub_index)
{
  int best = -1, least = -1;

  for (guint i = 0; i < profiles->len; i++) {
    OnvifProfile *p = profiles->pdata[i];
    guint64 area = (guint64) p->width * p->height;

    if (best < 0 ||
        area > (guint64) ((OnvifProfile *) profiles->pdata[best])->width *
                   ((OnvifProfile *) profiles->pdata[best])->height)
      best = (int) i;
  }
  for (guint i = 0; i < profiles->len; i++) {
    OnvifProfile *p = profiles->pdata[i];
    guint64 area = (guint64) p->width * p->height;

    if ((int) i == best)
      continue;
    if (least < 0 ||
        area < (guint64) ((OnvifProfile *) profiles->pdata[least])->width *
                   ((OnvifProfile *) profiles->pdata[least])->height)
      least = (int) i;
  }
  *main_index = best;
  *sub_index = least;
}

/* --- resolution ------------------------------------------------------------------- */

typedef enum {
  STEP_CLOCK,
  STEP_CAPABILITIES,
  STEP_INFORMATION,
  STEP_INTERFACES,
  STEP_PROFILES,
  STEP_MAIN_URI,
  STEP_SUB_URI,
  STEP_DONE,
} Step;

typedef struct {
  SoupSession *session;
  char *device_url;       /* the device service */
  char *media_url;        /* the media service (the device's by default) */
  char *host;             /* the only host connected to */
  char *user;             /* (nullable) secret */
  char *password;         /* (nullable) secret */
  gint64 clock_offset;
  Step step;
  SoupMessage *message;   /* the request under way */
  GByteArray *answer;
  GInputStream *stream;
  guint auth_tries;
  GBytes *body;           /* the request under way's, to send again */
  GPtrArray *profiles;
  int main_index, sub_index;
  HearthResolved resolved;
} Resolve;

static void
wipe (char **secret)
{
  if (*secret != NULL)
    explicit_bzero (*secret, strlen (*secret));
  g_clear_pointer (secret, g_free);
}

static void
resolve_free (Resolve *r)
{
  if (r->session != NULL)
    soup_session_abort (r->session);
  g_clear_object (&r->session);
  g_clear_object (&r->message);
  g_clear_object (&r->stream);
  g_clear_pointer (&r->body, g_bytes_unref);
  g_clear_pointer (&r->answer, g_byte_array_unref);
  g_clear_pointer (&r->profiles, g_ptr_array_unref);
  g_free (r->device_url);
  g_free (r->media_url);
  g_free (r->host);
  wipe (&r->user);
  wipe (&r->password);
  hearth_resolved_clear (&r->resolved);
  g_free (r);
}

static void resolve_next (GTask *task);

/* Digest only, once: a second challenge means the credentials were wrong. */
static gboolean
on_authenticate (SoupMessage *message, SoupAuth *auth, gboolean retrying, gpointer user_data)
{
  Resolve *r = user_data;

  if (retrying || r->user == NULL || r->auth_tries > 0 ||
      g_ascii_strcasecmp (soup_auth_get_scheme_name (auth), "Digest") != 0)
    return FALSE;
  r->auth_tries++;
  soup_auth_authenticate (auth, r->user, r->password != NULL ? r->password : "");
  return TRUE;
}

/* A request answered by a Digest challenge goes again: libsoup 3 wants its
 * body given again for that (the first one was read). */
static void
on_restarted (SoupMessage *message, gpointer user_data)
{
  Resolve *r = user_data;

  soup_message_set_request_body_from_bytes (message, "application/soap+xml; charset=utf-8",
                                            r->body);
}

static void on_read (GObject *source, GAsyncResult *result, gpointer user_data);

static void
read_more (GTask *task)
{
  Resolve *r = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (r->stream, 16 * 1024, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), on_read, task);
}

/* Whether @url is served by the device itself (its reported address). */
static gboolean
on_device (Resolve *r, const char *url)
{
  g_autofree char *host = NULL;

  return http_endpoint (url, &host, NULL) && g_strcmp0 (host, r->host) == 0;
}

static void step_answer (GTask *task, const char *data, gsize len);

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Resolve *r = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source),
                                                               result, &error);

  if (bytes == NULL) {
    g_task_return_error (task, g_steal_pointer (&error));
    g_object_unref (task);
    return;
  }
  if (g_bytes_get_size (bytes) > 0) {
    if (r->answer->len + g_bytes_get_size (bytes) > ONVIF_MAX_RESPONSE) {
      g_task_return_new_error (task, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID,
                               "the camera's answer is larger than %d bytes",
                               ONVIF_MAX_RESPONSE);
      g_object_unref (task);
      return;
    }
    g_byte_array_append (r->answer, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    read_more (task);
    return;
  }
  g_clear_object (&r->stream);
  step_answer (task, (const char *) r->answer->data, r->answer->len);
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Resolve *r = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  guint status;

  r->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (r->stream == NULL) {
    g_task_return_new_error (task, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_FAILED,
                             "could not reach the camera's ONVIF service: %s",
                             error->message);
    g_object_unref (task);
    return;
  }
  status = soup_message_get_status (r->message);
  if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN) {
    /* Either no Digest challenge we could answer, or a wrong password. */
    if (r->step == STEP_CLOCK) {
      /* The clock is only a nicety; some devices want credentials for it. */
      r->step = STEP_CAPABILITIES;
      resolve_next (task);
      return;
    }
    g_task_return_new_error (task, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_NOT_AUTHORIZED,
                             "the camera refused the user name or password");
    g_object_unref (task);
    return;
  }
  /* 200, or 400/500 with a SOAP fault in the body: read it either way. */
  if (status != SOUP_STATUS_OK && status != SOUP_STATUS_BAD_REQUEST &&
      status != SOUP_STATUS_INTERNAL_SERVER_ERROR) {
    g_task_return_new_error (task, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_FAILED,
                             "the camera's ONVIF service answered HTTP %u", status);
    g_object_unref (task);
    return;
  }
  g_byte_array_set_size (r->answer, 0);
  read_more (task);
}

static void
send_request (GTask *task, const char *url, const char *body, gboolean authenticated)
{
  Resolve *r = g_task_get_task_data (task);
  g_autofree char *envelope = build_envelope (body, authenticated ? r->user : NULL,
                                              r->password, r->clock_offset);
  g_autoptr (GBytes) bytes = NULL;

  if (!on_device (r, url)) {
    g_task_return_new_error (task, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID,
                             "the camera named a service on another host than its own "
                             "address %s", r->host);
    g_object_unref (task);
    return;
  }
  g_clear_object (&r->message);
  r->message = soup_message_new (SOUP_METHOD_POST, url);
  if (r->message == NULL) {
    g_task_return_new_error (task, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID,
                             "the camera's service address is not a URL");
    g_object_unref (task);
    return;
  }
  r->auth_tries = 0;
  soup_message_add_flags (r->message, SOUP_MESSAGE_NO_REDIRECT);
  if (authenticated)
    g_signal_connect (r->message, "authenticate", G_CALLBACK (on_authenticate), r);
  g_signal_connect (r->message, "restarted", G_CALLBACK (on_restarted), r);
  bytes = g_bytes_new_take (envelope, strlen (envelope));
  envelope = NULL;
  g_clear_pointer (&r->body, g_bytes_unref);
  r->body = g_bytes_ref (bytes);
  soup_message_set_request_body_from_bytes (r->message,
                                            "application/soap+xml; charset=utf-8", bytes);
  soup_session_send_async (r->session, r->message, G_PRIORITY_DEFAULT,
                           g_task_get_cancellable (task), on_sent, task);
}

/* Drops user information from a stream URI (credentials are the
 * gateway's to give, as properties); NULL if it is not rtsp(s). */
static char *
clean_stream_uri (const char *text, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (text, G_URI_FLAGS_ENCODED, NULL);
  g_autoptr (GUri) bare = NULL;

  if (uri == NULL || (g_strcmp0 (g_uri_get_scheme (uri), "rtsp") != 0 &&
                      g_strcmp0 (g_uri_get_scheme (uri), "rtsps") != 0) ||
      g_uri_get_host (uri) == NULL) {
    set_invalid (error, "The camera's stream URI is not an rtsp:// URL");
    return NULL;
  }
  bare = g_uri_build (G_URI_FLAGS_ENCODED, g_uri_get_scheme (uri), NULL,
                      g_uri_get_host (uri), g_uri_get_port (uri), g_uri_get_path (uri),
                      g_uri_get_query (uri), NULL);
  return g_uri_to_string (bare);
}

static void
stream_uri_request (GTask *task, int index)
{
  Resolve *r = g_task_get_task_data (task);
  OnvifProfile *profile = r->profiles->pdata[index];
  g_autofree char *token = g_markup_escape_text (profile->token, -1);
  g_autofree char *body = g_strdup_printf (
      "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>"
      "<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>"
      "<trt:ProfileToken>%s</trt:ProfileToken></trt:GetStreamUri>", token);

  send_request (task, r->media_url, body, TRUE);
}

/* Sends what the current step asks. */
static void
resolve_next (GTask *task)
{
  Resolve *r = g_task_get_task_data (task);

  switch (r->step) {
  case STEP_CLOCK:
    send_request (task, r->device_url, "<tds:GetSystemDateAndTime/>", FALSE);
    return;
  case STEP_CAPABILITIES:
    send_request (task, r->device_url,
                  "<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>",
                  TRUE);
    return;
  case STEP_INFORMATION:
    send_request (task, r->device_url, "<tds:GetDeviceInformation/>", TRUE);
    return;
  case STEP_INTERFACES:
    send_request (task, r->device_url, "<tds:GetNetworkInterfaces/>", TRUE);
    return;
  case STEP_PROFILES:
    send_request (task, r->media_url, "<trt:GetProfiles/>", TRUE);
    return;
  case STEP_MAIN_URI:
    stream_uri_request (task, r->main_index);
    return;
  case STEP_SUB_URI:
    if (r->sub_index >= 0) {
      stream_uri_request (task, r->sub_index);
      return;
    }
    r->step = STEP_DONE;
    G_GNUC_FALLTHROUGH;
  case STEP_DONE:
  default: {
    HearthResolved *out = g_new0 (HearthResolved, 1);

    *out = r->resolved;
    memset (&r->resolved, 0, sizeof r->resolved);
    g_task_return_pointer (task, out, (GDestroyNotify) NULL);
    g_object_unref (task);
    return;
  }
  }
}

/* What the current step's answer says; then the next step. */
static void
step_answer (GTask *task, const char *data, gsize len)
{
  Resolve *r = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  gboolean ok = TRUE;

  switch (r->step) {
  case STEP_CLOCK:
    if (!onvif_parse_system_date_and_time (data, len, &r->clock_offset, &error)) {
      g_debug ("ONVIF device %s: no clock (%s); using ours", r->host, error->message);
      r->clock_offset = 0;
      g_clear_error (&error);
    }
    break;
  case STEP_CAPABILITIES: {
    g_autofree char *media = NULL;

    ok = onvif_parse_capabilities (data, len, &media, &error);
    if (ok) {
      g_free (r->media_url);
      r->media_url = g_steal_pointer (&media);
    } else if (!g_error_matches (error, HEARTH_PLUGIN_ERROR,
                                 HEARTH_PLUGIN_ERROR_NOT_AUTHORIZED)) {
      /* Then the media service is the device service, as on many cameras. */
      g_debug ("ONVIF device %s: no capabilities (%s)", r->host, error->message);
      g_clear_error (&error);
      ok = TRUE;
    }
    break;
  }
  case STEP_INFORMATION: {
    g_autofree char *maker = NULL;
    g_autofree char *model = NULL;
    g_autofree char *serial = NULL;

    ok = onvif_parse_device_information (data, len, &maker, &model, &serial, &error);
    if (ok) {
      g_free (r->resolved.evidence.maker);
      r->resolved.evidence.maker = g_steal_pointer (&maker);
      g_free (r->resolved.evidence.model);
      r->resolved.evidence.model = g_steal_pointer (&model);
      r->resolved.evidence.serial = g_steal_pointer (&serial);
    }
    break;
  }
  case STEP_INTERFACES:
    if (!onvif_parse_network_interfaces (data, len, &r->resolved.evidence.mac, &error)) {
      if (g_error_matches (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_NOT_AUTHORIZED)) {
        ok = FALSE;
      } else {
        /* Optional: the MAC is also learnt from the neighbour table. */
        g_debug ("ONVIF device %s: no MAC (%s)", r->host, error->message);
        g_clear_error (&error);
      }
    }
    break;
  case STEP_PROFILES:
    ok = onvif_parse_profiles (data, len, &r->profiles, &error);
    if (ok)
      onvif_choose_profiles (r->profiles, &r->main_index, &r->sub_index);
    break;
  case STEP_MAIN_URI:
  case STEP_SUB_URI: {
    g_autofree char *uri = NULL;
    char *clean = NULL;

    ok = onvif_parse_stream_uri (data, len, &uri, &error) &&
         (clean = clean_stream_uri (uri, &error)) != NULL;
    if (ok && r->step == STEP_MAIN_URI)
      r->resolved.url = clean;
    else if (ok)
      r->resolved.sub_url = clean;
    break;
  }
  case STEP_DONE:
  default:
    break;
  }
  if (!ok) {
    g_task_return_error (task, g_steal_pointer (&error));
    g_object_unref (task);
    return;
  }
  r->step++;
  resolve_next (task);
}

static void
onvif_resolve_async (const HearthService *service, const char *user, const char *password,
                     GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Resolve *r = g_new0 (Resolve, 1);
  const char *xaddr = hearth_service_get_txt (service, "xaddr");
  g_autofree char *host = NULL;

  g_task_set_source_tag (task, onvif_resolve_async);
  g_task_set_task_data (task, r, (GDestroyNotify) resolve_free);
  r->answer = g_byte_array_new ();
  r->user = g_strdup (user);
  r->password = g_strdup (password);
  r->sub_index = -1;

  if (xaddr == NULL || !http_endpoint (xaddr, &host, NULL) ||
      g_strcmp0 (host, service->address) != 0) {
    g_task_return_new_error (task, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID,
                             "the camera's device service is not at its own address");
    g_object_unref (task);
    return;
  }
  r->host = g_steal_pointer (&host);
  r->device_url = g_strdup (xaddr);
  r->media_url = g_strdup (xaddr);
  r->resolved.service_url = g_strdup (xaddr);
  r->resolved.evidence.txt_id = g_strdup (hearth_service_get_txt (service, "epr"));
  r->resolved.evidence.maker = g_strdup (hearth_service_get_txt (service, "maker"));
  r->resolved.evidence.model = g_strdup (hearth_service_get_txt (service, "model"));
  /* The default proxy resolver stays: it is the gateway's egress gate. */
  r->session = soup_session_new_with_options ("timeout", HTTP_TIMEOUT_S,
                                              "idle-timeout", HTTP_TIMEOUT_S,
                                              "max-conns-per-host", 1,
                                              "user-agent", "hearth", NULL);
  soup_session_remove_feature_by_type (r->session, SOUP_TYPE_AUTH_BASIC);
  r->step = STEP_CLOCK;
  resolve_next (task);
}

static gboolean
onvif_resolve_finish (GAsyncResult *result, HearthResolved *resolved, GError **error)
{
  HearthResolved *out = g_task_propagate_pointer (G_TASK (result), error);

  if (out == NULL)
    return FALSE;
  *resolved = *out;
  g_free (out);
  return TRUE;
}

/* --- discovery -------------------------------------------------------------------- */

typedef struct {
  char *id;       /* EPR */
  char *report;   /* what was reported last, to report changes only */
  gint64 seen_us; /* the last Hello or ProbeMatch (monotonic) */
} Known;

typedef struct {
  const HearthDiscoveryHooks *hooks;
  GMainContext *context;
  GSocket *listen;          /* :3702, joined to the group (nullable) */
  GSocket *probe;           /* ephemeral port: Probes out, ProbeMatches in */
  GSource *listen_source;
  GSource *probe_source;
  GSource *timer;
  GSource *again;
  GPtrArray *networks;      /* of GInetAddressMask */
  GPtrArray *interfaces;    /* of GInetAddress: local IPv4 interface addresses */
  char *sent[MAX_SENT_PROBES];  /* our last MessageIDs */
  guint next_sent;
  GHashTable *known;        /* EPR → Known */
  GHashTable *said;         /* what was logged once */
} Discovery;

static void
known_free (Known *known)
{
  g_free (known->id);
  g_free (known->report);
  g_free (known);
}

static gboolean
in_networks (Discovery *d, GInetAddress *address)
{
  for (guint i = 0; i < d->networks->len; i++)
    if (g_inet_address_mask_matches (d->networks->pdata[i], address))
      return TRUE;
  return FALSE;
}

/* The local IPv4 addresses of up, multicast-capable interfaces. */
static void
find_interfaces (Discovery *d)
{
  struct ifaddrs *list = NULL;

  g_ptr_array_set_size (d->interfaces, 0);
  if (getifaddrs (&list) != 0)
    return;
  for (struct ifaddrs *i = list; i != NULL; i = i->ifa_next) {
    g_autoptr (GInetAddress) address = NULL;

    if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
        !(i->ifa_flags & IFF_UP) || !(i->ifa_flags & IFF_MULTICAST) ||
        (i->ifa_flags & IFF_LOOPBACK))
      continue;
    address = g_inet_address_new_from_bytes (
        (const guint8 *) &((struct sockaddr_in *) i->ifa_addr)->sin_addr,
        G_SOCKET_FAMILY_IPV4);
    if (in_networks (d, address))
      g_ptr_array_add (d->interfaces, g_steal_pointer (&address));
  }
  freeifaddrs (list);
}

static void
say_once (Discovery *d, const char *what, const char *message)
{
  g_autofree char *key = g_strdup_printf ("%s %s", what, message);

  if (g_hash_table_size (d->said) > 1024)
    g_hash_table_remove_all (d->said);
  if (g_hash_table_add (d->said, g_steal_pointer (&key)))
    g_message ("%s", message);
}

static void
report_device (Discovery *d, const OnvifDevice *device, const char *from)
{
  g_autofree char *xaddr = onvif_pick_xaddr (device->xaddrs, from);
  g_autofree char *host = NULL;
  g_autofree char *name = NULL;
  g_autofree char *model = NULL;
  g_autofree char *summary = NULL;
  g_autoptr (GHashTable) txt = NULL;
  guint16 port = 0;
  Known *known;

  if (!device->is_camera) {
    g_debug ("WS-Discovery device %s at %s is not a camera, ignoring", device->epr, from);
    return;
  }
  if (xaddr == NULL || !http_endpoint (xaddr, &host, &port)) {
    say_once (d, device->epr, "An ONVIF camera announced no http:// device service at "
                              "the address it spoke from, ignoring");
    return;
  }
  known = g_hash_table_lookup (d->known, device->epr);
  if (known == NULL && g_hash_table_size (d->known) >= MAX_DEVICES) {
    say_once (d, "too-many", "More than 256 ONVIF devices: ignoring the rest");
    return;
  }
  /* A person's name for it: the name scope, else maker and model. */
  model = g_strdup (device->hardware);
  if (device->name != NULL)
    name = g_strdup (device->name);
  else
    name = g_strdup_printf ("%s%s%s", device->maker ? device->maker : "ONVIF camera",
                            model ? " " : "", model ? model : "");
  if (strlen (name) > MAX_NAME_BYTES) {
    const char *end = name + MAX_NAME_BYTES;

    g_utf8_validate (name, MAX_NAME_BYTES, &end);
    name[end - name] = '\0';
  }
  txt = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_hash_table_insert (txt, "epr", g_strdup (device->epr));
  g_hash_table_insert (txt, "xaddr", g_strdup (xaddr));
  if (model != NULL)
    g_hash_table_insert (txt, "model", g_strdup (model));
  /* The maker: the mfr scope, else the name scope (cameras put their brand
   * there: "HIKVISION", "Dahua"…). */
  if (device->maker != NULL || device->name != NULL)
    g_hash_table_insert (txt, "maker", g_strdup (device->maker ? device->maker : device->name));

  summary = g_strdup_printf ("%s|%s|%s|%s|%s", name, host, xaddr, model ? model : "",
                             device->maker ? device->maker : "");
  if (known != NULL && g_strcmp0 (known->report, summary) == 0) {
    known->seen_us = g_get_monotonic_time ();
    return;
  }
  if (known == NULL) {
    known = g_new0 (Known, 1);
    known->id = g_strdup (device->epr);
    g_hash_table_insert (d->known, known->id, known);
  }
  g_free (known->report);
  known->report = g_steal_pointer (&summary);
  known->seen_us = g_get_monotonic_time ();
  d->hooks->report (d->hooks->gateway, device->epr, &(HearthService) {
      .type = DISCOVERY_TYPE, .name = name, .domain = "", .host_name = NULL,
      .address = host, .port = port, .txt = txt });
}

static gboolean
is_our_probe (Discovery *d, const char *relates_to)
{
  for (guint i = 0; relates_to != NULL && i < MAX_SENT_PROBES; i++)
    if (g_strcmp0 (d->sent[i], relates_to) == 0)
      return TRUE;
  return FALSE;
}

static void
handle_datagram (Discovery *d, const char *data, gsize len, const char *from)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (OnvifMessage) message = onvif_parse_discovery (data, len, &error);

  if (message == NULL) {
    g_debug ("WS-Discovery datagram from %s ignored: %s", from, error->message);
    return;
  }
  switch (message->kind) {
  case ONVIF_MESSAGE_PROBE_MATCHES:
    if (!is_our_probe (d, message->relates_to)) {
      g_debug ("ProbeMatches from %s for a Probe we did not send, ignoring", from);
      return;
    }
    G_GNUC_FALLTHROUGH;
  case ONVIF_MESSAGE_HELLO:
    for (guint i = 0; i < message->devices->len; i++)
      report_device (d, message->devices->pdata[i], from);
    return;
  case ONVIF_MESSAGE_BYE:
    for (guint i = 0; i < message->devices->len; i++) {
      OnvifDevice *device = message->devices->pdata[i];

      if (g_hash_table_remove (d->known, device->epr))
        d->hooks->withdraw (d->hooks->gateway, device->epr);
    }
    return;
  case ONVIF_MESSAGE_OTHER:
  default:
    return;
  }
}

static gboolean
on_datagram (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Discovery *d = user_data;

  /* Drain what is there, within reason, each datagram at most 64 KiB. */
  for (guint n = 0; n < 64; n++) {
    g_autoptr (GSocketAddress) sender = NULL;
    g_autofree char *from = NULL;
    g_autofree char *buffer = g_malloc (ONVIF_MAX_DATAGRAM);
    gssize got = g_socket_receive_from (socket, &sender, buffer, ONVIF_MAX_DATAGRAM,
                                        NULL, NULL);

    if (got <= 0)
      break;
    if (G_IS_INET_SOCKET_ADDRESS (sender)) {
      GInetAddress *address =
        g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sender));

      /* Only the local networks are listened to (invariant 7). */
      if (!in_networks (d, address))
        continue;
      from = g_inet_address_to_string (address);
    }
    if (from != NULL)
      handle_datagram (d, buffer, (gsize) got, from);
  }
  (void) condition;
  return G_SOURCE_CONTINUE;
}

static void
send_probes (Discovery *d)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *id = g_strdup_printf ("urn:uuid:%s", uuid);
  g_autofree char *probe = g_strdup_printf (
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
      "<s:Envelope xmlns:s=\"" NS_SOAP "\" xmlns:a=\"" NS_WSA "\" xmlns:d=\"" NS_WSD "\" "
      "xmlns:dn=\"" NS_DN "\"><s:Header>"
      "<a:Action s:mustUnderstand=\"1\">" NS_WSD "/Probe</a:Action>"
      "<a:MessageID>%s</a:MessageID>"
      "<a:ReplyTo><a:Address>" NS_WSA "/role/anonymous</a:Address></a:ReplyTo>"
      "<a:To s:mustUnderstand=\"1\">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"
      "</s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types>"
      "</d:Probe></s:Body></s:Envelope>", id);
  g_autoptr (GInetAddress) group = g_inet_address_new_from_string (WSD_GROUP);
  g_autoptr (GSocketAddress) to = g_inet_socket_address_new (group, WSD_PORT);
  int fd = g_socket_get_fd (d->probe);

  g_free (d->sent[d->next_sent]);
  d->sent[d->next_sent] = g_steal_pointer (&id);
  d->next_sent = (d->next_sent + 1) % MAX_SENT_PROBES;

  find_interfaces (d);
  for (guint i = 0; i < d->interfaces->len; i++) {
    struct in_addr on;
    g_autoptr (GError) error = NULL;

    memcpy (&on, g_inet_address_to_bytes (d->interfaces->pdata[i]), sizeof on);
    if (setsockopt (fd, IPPROTO_IP, IP_MULTICAST_IF, &on, sizeof on) != 0)
      continue;
    if (g_socket_send_to (d->probe, to, probe, strlen (probe), NULL, &error) < 0)
      g_debug ("WS-Discovery Probe not sent: %s", error->message);
  }
}

/* A device that answered none of the last Probes and said nothing since
 * is gone (a camera unplugged sends no Bye). */
static void
expire_devices (Discovery *d)
{
  gint64 before = g_get_monotonic_time () - (gint64) EXPIRE_S * G_USEC_PER_SEC;
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, d->known);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((Known *) value)->seen_us < before)
      g_ptr_array_add (gone, g_strdup (((Known *) value)->id));
  for (guint i = 0; i < gone->len; i++) {
    g_debug ("ONVIF device %s answered no Probe for %d s: gone", (char *) gone->pdata[i],
             EXPIRE_S);
    g_hash_table_remove (d->known, gone->pdata[i]);
    d->hooks->withdraw (d->hooks->gateway, gone->pdata[i]);
  }
}

static gboolean
on_probe_timer (gpointer user_data)
{
  expire_devices (user_data);
  send_probes (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_probe_again (gpointer user_data)
{
  Discovery *d = user_data;

  send_probes (d);
  g_clear_pointer (&d->again, g_source_unref);
  return G_SOURCE_REMOVE;
}

static GSource *
watch (Discovery *d, GSocket *socket)
{
  GSource *source = g_socket_create_source (socket, G_IO_IN, NULL);

  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) on_datagram, d, NULL);
  g_source_attach (source, d->context);
  return source;
}

static GSource *
timeout (Discovery *d, guint seconds, GSourceFunc func)
{
  GSource *source = g_timeout_source_new_seconds (seconds);

  g_source_set_callback (source, func, d, NULL);
  g_source_attach (source, d->context);
  return source;
}

static void
destroy_source (GSource **source)
{
  if (*source != NULL) {
    g_source_destroy (*source);
    g_clear_pointer (source, g_source_unref);
  }
}

static void
onvif_discovery_stop (gpointer handle)
{
  Discovery *d = handle;

  destroy_source (&d->listen_source);
  destroy_source (&d->probe_source);
  destroy_source (&d->timer);
  destroy_source (&d->again);
  g_clear_object (&d->listen);
  g_clear_object (&d->probe);
  g_ptr_array_unref (d->networks);
  g_ptr_array_unref (d->interfaces);
  for (guint i = 0; i < MAX_SENT_PROBES; i++)
    g_free (d->sent[i]);
  g_hash_table_unref (d->known);
  g_hash_table_unref (d->said);
  g_main_context_unref (d->context);
  g_free (d);
}

/* A UDP socket bound to @port on any address, multicast TTL 1. */
static GSocket *
udp_socket (guint16 port, GError **error)
{
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                             G_SOCKET_PROTOCOL_UDP, error);
  g_autoptr (GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (any, port);

  if (socket == NULL)
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  /* Never routed off the link the camera is on. */
  g_socket_set_multicast_ttl (socket, 1);
  if (!g_socket_bind (socket, address, TRUE, error))
    return NULL;
  return g_steal_pointer (&socket);
}

static gpointer
onvif_discovery_start (const HearthDiscoveryHooks *hooks, GError **error)
{
  Discovery *d = g_new0 (Discovery, 1);
  g_autoptr (GError) listen_error = NULL;
  g_autoptr (GInetAddress) group = g_inet_address_new_from_string (WSD_GROUP);

  d->hooks = hooks;
  d->context = g_main_context_ref_thread_default ();
  d->networks = g_ptr_array_new_with_free_func (g_object_unref);
  d->interfaces = g_ptr_array_new_with_free_func (g_object_unref);
  d->known = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) known_free);
  d->said = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; hooks->local_networks != NULL && hooks->local_networks[i] != NULL; i++) {
    GInetAddressMask *mask = g_inet_address_mask_new_from_string (hooks->local_networks[i],
                                                                  NULL);

    if (mask != NULL)
      g_ptr_array_add (d->networks, mask);
  }

  d->probe = udp_socket (0, error);
  if (d->probe == NULL) {
    onvif_discovery_stop (d);
    return NULL;
  }
  d->probe_source = watch (d, d->probe);

  /* Hello and Bye: without them a camera is found at the next Probe only. */
  d->listen = udp_socket (WSD_PORT, &listen_error);
  if (d->listen != NULL) {
    find_interfaces (d);
    for (guint i = 0; i < d->interfaces->len; i++) {
      g_autofree char *shown = g_inet_address_to_string (d->interfaces->pdata[i]);
      struct ip_mreq mreq;

      memcpy (&mreq.imr_multiaddr, g_inet_address_to_bytes (group), 4);
      memcpy (&mreq.imr_interface, g_inet_address_to_bytes (d->interfaces->pdata[i]), 4);
      if (setsockopt (g_socket_get_fd (d->listen), IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq,
                      sizeof mreq) != 0)
        g_debug ("Could not join %s on %s: %s", WSD_GROUP, shown, g_strerror (errno));
    }
    d->listen_source = watch (d, d->listen);
  } else {
    g_message ("ONVIF: not listening for Hello and Bye on port %d (%s); cameras are "
               "found by probing every %d s", WSD_PORT, listen_error->message,
               PROBE_INTERVAL_S);
  }

  send_probes (d);
  d->again = timeout (d, PROBE_AGAIN_S, on_probe_again);
  d->timer = timeout (d, PROBE_INTERVAL_S, on_probe_timer);
  return d;
}

/* --- the plugin ------------------------------------------------------------------- */

static void
onvif_extract_evidence (const HearthService *service, HearthEvidence *evidence)
{
  evidence->txt_id = g_strdup (hearth_service_get_txt_printable (service, "epr"));
  evidence->model = g_strdup (hearth_service_get_txt_printable (service, "model"));
  evidence->maker = g_strdup (hearth_service_get_txt_printable (service, "maker"));
}

static const HearthPlugin plugin = {
  .abi = HEARTH_PLUGIN_ABI,
  .name = "onvif",
  .description = "ONVIF cameras (WS-Discovery; stream URIs from the Media service, "
                 "WS-Security UsernameToken)",
  .extract_evidence = onvif_extract_evidence,
  .discovery_type = DISCOVERY_TYPE,
  .discovery_start = onvif_discovery_start,
  .discovery_stop = onvif_discovery_stop,
  .resolve_async = onvif_resolve_async,
  .resolve_finish = onvif_resolve_finish,
};

HEARTH_PLUGIN_EXPORT const HearthPlugin *
hearth_plugin_get (void)
{
  return &plugin;
}
