/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test-onvif: the onvif plugin's hand-written parts (plugins/onvif.c) with
 * canned messages: WS-Discovery Hello/Bye/ProbeMatches, the SOAP answers of
 * a device, the WS-Security digest (the known answer of the ONVIF
 * Application Programmer's Guide), hostile XML (huge, entity expansion, a
 * DTD, wrong namespaces, missing fields), and a whole resolution against a
 * device on 127.0.0.1 (a SoupServer in the test) that checks the
 * UsernameToken, refuses a wrong password, or asks for HTTP Digest.
 */
#include <string.h>

#include <libsoup/soup.h>
#include <libxml/parser.h>

#include "fixture.h"
#include "hearth-plugin.h"
#include "onvif.h"

#define ENV_OPEN \
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>" \
  "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" " \
  "xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" " \
  "xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\" " \
  "xmlns:dn=\"http://www.onvif.org/ver10/network/wsdl\" " \
  "xmlns:pub=\"http://schemas.microsoft.com/windows/pub/2005/07\" " \
  "xmlns:tds=\"http://www.onvif.org/ver10/device/wsdl\" " \
  "xmlns:trt=\"http://www.onvif.org/ver10/media/wsdl\" " \
  "xmlns:tt=\"http://www.onvif.org/ver10/schema\" " \
  "xmlns:ter=\"http://www.onvif.org/ver10/error\">"

#define EPR "urn:uuid:5f5a69c2-e0ae-504f-829b-00a1b2c3d4e5"

static const char hello[] = ENV_OPEN
  "<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello</a:Action>"
  "<a:MessageID>urn:uuid:1</a:MessageID></s:Header><s:Body><d:Hello>"
  "<a:EndpointReference><a:Address>" EPR "</a:Address></a:EndpointReference>"
  "<d:Types>tds:Device dn:NetworkVideoTransmitter</d:Types>"
  "<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/Acme%20Cam "
  "onvif://www.onvif.org/hardware/C100 onvif://www.onvif.org/mfr/Acme</d:Scopes>"
  "<d:XAddrs>http://[fe80::1]/onvif/device_service http://10.0.0.9/onvif/device_service "
  "http://192.168.1.40:8080/onvif/device_service</d:XAddrs>"
  "<d:MetadataVersion>1</d:MetadataVersion></d:Hello></s:Body></s:Envelope>";

/* What Debian's wsdd says for a Samba or Windows computer. */
static const char hello_wsdd[] = ENV_OPEN
  "<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello</a:Action>"
  "</s:Header><s:Body><d:Hello><a:EndpointReference><a:Address>urn:uuid:0000</a:Address>"
  "</a:EndpointReference><d:Types>wsdp:Device pub:Computer</d:Types>"
  "<d:XAddrs>http://192.168.1.41:5357/0000</d:XAddrs></d:Hello></s:Body></s:Envelope>";

/* The right local name in another namespace is not a camera. */
static const char hello_other_ns[] =
  "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
  "xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" "
  "xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\" "
  "xmlns:dn=\"http://example.com/not-onvif\"><s:Body><d:Hello><a:EndpointReference>"
  "<a:Address>urn:uuid:1111</a:Address></a:EndpointReference>"
  "<d:Types>dn:NetworkVideoTransmitter</d:Types><d:XAddrs>http://192.168.1.42/x</d:XAddrs>"
  "</d:Hello></s:Body></s:Envelope>";

/* Hello in a namespace that is not WS-Discovery 2005/04. */
static const char hello_wrong_wsd[] =
  "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
  "xmlns:d=\"http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01\"><s:Body><d:Hello/>"
  "</s:Body></s:Envelope>";

/* SOAP 1.1 is not what ONVIF speaks. */
static const char soap11[] =
  "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body/></s:Envelope>";

static const char bye[] = ENV_OPEN
  "<s:Body><d:Bye><a:EndpointReference><a:Address>" EPR "</a:Address>"
  "</a:EndpointReference></d:Bye></s:Body></s:Envelope>";

static const char matches[] = ENV_OPEN
  "<s:Header><a:RelatesTo>urn:uuid:our-probe</a:RelatesTo></s:Header><s:Body>"
  "<d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>" EPR "</a:Address>"
  "</a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>"
  "<d:XAddrs>http://192.168.1.40/onvif/device_service</d:XAddrs></d:ProbeMatch>"
  "</d:ProbeMatches></s:Body></s:Envelope>";

static const char no_epr[] = ENV_OPEN
  "<s:Body><d:Hello><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Hello></s:Body>"
  "</s:Envelope>";

static const char laughs[] =
  "<?xml version=\"1.0\"?><!DOCTYPE s:Envelope [<!ENTITY a \"aaaaaaaaaa\">"
  "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
  "]><s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
  "xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" "
  "xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\"><s:Body><d:Hello>"
  "<a:EndpointReference><a:Address>&c;</a:Address></a:EndpointReference></d:Hello>"
  "</s:Body></s:Envelope>";

static const char external[] =
  "<?xml version=\"1.0\"?><!DOCTYPE s [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
  "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body>&x;</s:Body>"
  "</s:Envelope>";

static void
test_digest (void)
{
  /* ONVIF Application Programmer's Guide, 6.1.1.3. */
  gsize len;
  g_autofree guint8 *nonce = g_base64_decode ("LKqI6G/AikKCQrN0zqZFlg==", &len);
  g_autofree char *digest = onvif_password_digest (nonce, len, "2010-09-16T07:50:45Z",
                                                   "userpassword");

  g_assert_cmpstr (digest, ==, "tuOSpGlFlIXsozq4HFNeeGeFLEI=");
}

static void
test_hello (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (OnvifMessage) m = onvif_parse_discovery (hello, strlen (hello), &error);
  OnvifDevice *d;
  g_autofree char *xaddr = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (m->kind, ==, ONVIF_MESSAGE_HELLO);
  g_assert_cmpuint (m->devices->len, ==, 1);
  d = m->devices->pdata[0];
  g_assert_cmpstr (d->epr, ==, EPR);
  g_assert_true (d->is_camera);
  g_assert_cmpstr (d->name, ==, "Acme Cam");
  g_assert_cmpstr (d->hardware, ==, "C100");
  g_assert_cmpstr (d->maker, ==, "Acme");
  /* Only at the sender's own address: a device cannot announce itself at
   * another's. */
  xaddr = onvif_pick_xaddr (d->xaddrs, "192.168.1.40");
  g_assert_cmpstr (xaddr, ==, "http://192.168.1.40:8080/onvif/device_service");
  g_free (xaddr);
  xaddr = onvif_pick_xaddr (d->xaddrs, "192.168.1.99");
  g_assert_null (xaddr);
  xaddr = onvif_pick_xaddr (d->xaddrs, NULL);
  g_assert_cmpstr (xaddr, ==, "http://10.0.0.9/onvif/device_service");
  g_free (xaddr);
  xaddr = onvif_pick_xaddr ("https://192.168.1.40/x http://name.local/x "
                            "http://u:p@192.168.1.40/x", NULL);
  g_assert_null (xaddr);
}

static void
test_not_cameras (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (OnvifMessage) wsdd = onvif_parse_discovery (hello_wsdd, strlen (hello_wsdd),
                                                         &error);
  g_autoptr (OnvifMessage) other = NULL;
  g_autoptr (OnvifMessage) wrong = NULL;

  g_assert_no_error (error);
  g_assert_false (((OnvifDevice *) wsdd->devices->pdata[0])->is_camera);
  other = onvif_parse_discovery (hello_other_ns, strlen (hello_other_ns), &error);
  g_assert_no_error (error);
  g_assert_false (((OnvifDevice *) other->devices->pdata[0])->is_camera);
  wrong = onvif_parse_discovery (hello_wrong_wsd, strlen (hello_wrong_wsd), &error);
  g_assert_no_error (error);
  g_assert_cmpint (wrong->kind, ==, ONVIF_MESSAGE_OTHER);
  g_assert_null (onvif_parse_discovery (soap11, strlen (soap11), &error));
  g_assert_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID);
}

static void
test_bye_matches (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (OnvifMessage) b = onvif_parse_discovery (bye, strlen (bye), &error);
  g_autoptr (OnvifMessage) m = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (b->kind, ==, ONVIF_MESSAGE_BYE);
  g_assert_cmpstr (((OnvifDevice *) b->devices->pdata[0])->epr, ==, EPR);
  m = onvif_parse_discovery (matches, strlen (matches), &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->kind, ==, ONVIF_MESSAGE_PROBE_MATCHES);
  g_assert_cmpstr (m->relates_to, ==, "urn:uuid:our-probe");
  g_assert_true (((OnvifDevice *) m->devices->pdata[0])->is_camera);
}

static void
test_hostile (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) huge = g_string_new (ENV_OPEN "<s:Body><d:Hello><a:EndpointReference>"
                                           "<a:Address>");

  g_assert_null (onvif_parse_discovery (no_epr, strlen (no_epr), &error));
  g_assert_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (onvif_parse_discovery (laughs, strlen (laughs), &error));
  g_assert_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (onvif_parse_discovery (external, strlen (external), &error));
  g_assert_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID);
  g_clear_error (&error);
  /* An address past the datagram limit: the device's own, over and over. */
  while (huge->len <= ONVIF_MAX_DATAGRAM)
    g_string_append (huge, EPR);
  g_string_append (huge, "</a:Address></a:EndpointReference></d:Hello></s:Body></s:Envelope>");
  g_assert_null (onvif_parse_discovery (huge->str, huge->len, &error));
  g_assert_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (onvif_parse_discovery ("<not xml", 8, &error));
  g_assert_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID);
  g_clear_error (&error);
  /* An escape sequence in a scope is not shown to anyone. */
  {
    const char *text = ENV_OPEN "<s:Body><d:Hello><a:EndpointReference><a:Address>x"
      "</a:Address></a:EndpointReference><d:Scopes>onvif://www.onvif.org/name/a%1b%5b31m"
      "</d:Scopes></d:Hello></s:Body></s:Envelope>";
    g_autoptr (OnvifMessage) m = onvif_parse_discovery (text, strlen (text), &error);

    g_assert_no_error (error);
    g_assert_null (((OnvifDevice *) m->devices->pdata[0])->name);
  }
}

#define ANSWER(body) ENV_OPEN "<s:Body>" body "</s:Body></s:Envelope>"

static const char profiles[] = ANSWER (
  "<trt:GetProfilesResponse>"
  "<trt:Profiles token=\"sub\"><tt:VideoEncoderConfiguration><tt:Resolution>"
  "<tt:Width>640</tt:Width><tt:Height>360</tt:Height></tt:Resolution>"
  "</tt:VideoEncoderConfiguration></trt:Profiles>"
  "<trt:Profiles token=\"main\"><tt:VideoEncoderConfiguration><tt:Resolution>"
  "<tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution>"
  "</tt:VideoEncoderConfiguration></trt:Profiles>"
  "<trt:Profiles token=\"mid\"><tt:VideoEncoderConfiguration><tt:Resolution>"
  "<tt:Width>1280</tt:Width><tt:Height>720</tt:Height></tt:Resolution>"
  "</tt:VideoEncoderConfiguration></trt:Profiles></trt:GetProfilesResponse>");

static const char not_authorized[] = ANSWER (
  "<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized"
  "</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en\">Sender not "
  "authorized</s:Text></s:Reason></s:Fault>");

static void
test_answers (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autofree char *maker = NULL, *model = NULL, *serial = NULL, *mac = NULL;
  g_autofree char *uri = NULL, *media = NULL;
  const char *info = ANSWER ("<tds:GetDeviceInformationResponse><tds:Manufacturer>Acme"
                             "</tds:Manufacturer><tds:Model>C100</tds:Model>"
                             "<tds:FirmwareVersion>1</tds:FirmwareVersion><tds:SerialNumber>"
                             "SN-1</tds:SerialNumber><tds:HardwareId>1</tds:HardwareId>"
                             "</tds:GetDeviceInformationResponse>");
  const char *nics = ANSWER ("<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces "
                             "token=\"eth0\"><tt:Enabled>true</tt:Enabled><tt:Info>"
                             "<tt:Name>eth0</tt:Name><tt:HwAddress>00-11-22-AA-BB-CC"
                             "</tt:HwAddress></tt:Info></tds:NetworkInterfaces>"
                             "</tds:GetNetworkInterfacesResponse>");
  const char *stream = ANSWER ("<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>"
                               "rtsp://192.168.1.40:554/main</tt:Uri></trt:MediaUri>"
                               "</trt:GetStreamUriResponse>");
  const char *caps = ANSWER ("<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device>"
                             "<tt:XAddr>http://192.168.1.40/onvif/device_service</tt:XAddr>"
                             "</tt:Device><tt:Media><tt:XAddr>http://192.168.1.40/onvif/"
                             "media</tt:XAddr></tt:Media></tds:Capabilities>"
                             "</tds:GetCapabilitiesResponse>");
  /* The right names in the wrong namespace are not an answer. */
  const char *wrong_ns = "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
                         "xmlns:trt=\"http://example.com/media\" xmlns:tt=\"http://www.onvif."
                         "org/ver10/schema\"><s:Body><trt:GetStreamUriResponse><trt:MediaUri>"
                         "<tt:Uri>rtsp://192.168.1.40/x</tt:Uri></trt:MediaUri>"
                         "</trt:GetStreamUriResponse></s:Body></s:Envelope>";
  int main_index, sub_index;

  g_assert_true (onvif_parse_device_information (info, strlen (info), &maker, &model,
                                                 &serial, &error));
  g_assert_cmpstr (maker, ==, "Acme");
  g_assert_cmpstr (model, ==, "C100");
  g_assert_cmpstr (serial, ==, "SN-1");
  g_assert_true (onvif_parse_network_interfaces (nics, strlen (nics), &mac, &error));
  g_assert_cmpstr (mac, ==, "00:11:22:aa:bb:cc");
  g_assert_true (onvif_parse_stream_uri (stream, strlen (stream), &uri, &error));
  g_assert_cmpstr (uri, ==, "rtsp://192.168.1.40:554/main");
  g_assert_true (onvif_parse_capabilities (caps, strlen (caps), &media, &error));
  g_assert_cmpstr (media, ==, "http://192.168.1.40/onvif/media");
  g_assert_true (onvif_parse_profiles (profiles, strlen (profiles), &list, &error));
  g_assert_cmpuint (list->len, ==, 3);
  onvif_choose_profiles (list, &main_index, &sub_index);
  g_assert_cmpstr (((OnvifProfile *) list->pdata[main_index])->token, ==, "main");
  g_assert_cmpstr (((OnvifProfile *) list->pdata[sub_index])->token, ==, "sub");

  g_clear_pointer (&uri, g_free);
  g_assert_false (onvif_parse_stream_uri (wrong_ns, strlen (wrong_ns), &uri, &error));
  g_assert_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (onvif_parse_stream_uri (not_authorized, strlen (not_authorized), &uri,
                                          &error));
  g_assert_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_NOT_AUTHORIZED);
  g_clear_error (&error);
  g_assert_false (onvif_parse_profiles (laughs, strlen (laughs), &list, &error));
  g_assert_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID);
}

/* --- a whole resolution against a device in the test ------------------------------ */

typedef struct {
  SoupServer *server;
  char *base;              /* http://127.0.0.1:PORT */
  const char *password;    /* what the device accepts */
  gboolean digest_http;    /* HTTP Digest instead of WS-Security */
  gboolean foreign_media;  /* GetCapabilities names another host */
  guint requests;
  guint tokens_ok;
} Device;

/* Checks the UsernameToken of @body as a device does. */
static gboolean
token_ok (Device *device, const char *body)
{
  g_autoptr (GRegex) re = g_regex_new ("<wsse:Username>([^<]*)</wsse:Username>"
                                       "<wsse:Password [^>]*>([^<]*)</wsse:Password>"
                                       "<wsse:Nonce [^>]*>([^<]*)</wsse:Nonce>"
                                       "<wsu:Created>([^<]*)</wsu:Created>", 0, 0, NULL);
  g_autoptr (GMatchInfo) match = NULL;
  g_autofree char *user = NULL, *digest = NULL, *nonce64 = NULL, *created = NULL;
  g_autofree char *want = NULL;
  g_autofree guint8 *nonce = NULL;
  gsize len;

  if (!g_regex_match (re, body, 0, &match))
    return FALSE;
  user = g_match_info_fetch (match, 1);
  digest = g_match_info_fetch (match, 2);
  nonce64 = g_match_info_fetch (match, 3);
  created = g_match_info_fetch (match, 4);
  nonce = g_base64_decode (nonce64, &len);
  want = onvif_password_digest (nonce, len, created, device->password);
  return g_str_equal (user, "admin") && g_str_equal (digest, want);
}

static void
on_device_request (SoupServer *server, SoupServerMessage *msg, const char *path,
                   GHashTable *query, gpointer user_data)
{
  Device *device = user_data;
  SoupMessageBody *request = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) flat = soup_message_body_flatten (request);
  g_autofree char *body = g_strndup (g_bytes_get_data (flat, NULL), g_bytes_get_size (flat));
  g_autofree char *answer = NULL;

  device->requests++;
  if (strstr (body, "GetSystemDateAndTime") != NULL) {
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

    answer = g_strdup_printf (ANSWER ("<tds:GetSystemDateAndTimeResponse>"
        "<tds:SystemDateAndTime><tt:UTCDateTime><tt:Time><tt:Hour>%d</tt:Hour>"
        "<tt:Minute>%d</tt:Minute><tt:Second>%d</tt:Second></tt:Time><tt:Date>"
        "<tt:Year>%d</tt:Year><tt:Month>%d</tt:Month><tt:Day>%d</tt:Day></tt:Date>"
        "</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"),
        g_date_time_get_hour (now), g_date_time_get_minute (now),
        g_date_time_get_second (now), g_date_time_get_year (now),
        g_date_time_get_month (now), g_date_time_get_day_of_month (now));
  } else if (!device->digest_http && !token_ok (device, body)) {
    soup_server_message_set_status (msg, 400, NULL);
    soup_server_message_set_response (msg, "application/soap+xml", SOUP_MEMORY_STATIC,
                                      not_authorized, strlen (not_authorized));
    return;
  } else {
    device->tokens_ok++;
    if (strstr (body, "GetCapabilities") != NULL)
      answer = g_strdup_printf (ANSWER ("<tds:GetCapabilitiesResponse><tds:Capabilities>"
                                        "<tt:Media><tt:XAddr>%s/onvif/media</tt:XAddr>"
                                        "</tt:Media></tds:Capabilities>"
                                        "</tds:GetCapabilitiesResponse>"),
                                device->foreign_media ? "http://127.0.0.2:1" : device->base);
    else if (strstr (body, "GetDeviceInformation") != NULL)
      answer = g_strdup (ANSWER ("<tds:GetDeviceInformationResponse><tds:Manufacturer>Acme"
                                 "</tds:Manufacturer><tds:Model>C100</tds:Model>"
                                 "<tds:SerialNumber>SN-1</tds:SerialNumber>"
                                 "</tds:GetDeviceInformationResponse>"));
    else if (strstr (body, "GetNetworkInterfaces") != NULL)
      answer = g_strdup (ANSWER ("<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces>"
                                 "<tt:Info><tt:HwAddress>00:11:22:aa:bb:cc</tt:HwAddress>"
                                 "</tt:Info></tds:NetworkInterfaces>"
                                 "</tds:GetNetworkInterfacesResponse>"));
    else if (strstr (body, "GetProfiles") != NULL)
      answer = g_strdup (profiles);
    else if (strstr (body, "GetStreamUri") != NULL)
      answer = g_strdup_printf (ANSWER ("<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>"
                                        "rtsp://user:secret@127.0.0.1:8554/%s</tt:Uri>"
                                        "</trt:MediaUri></trt:GetStreamUriResponse>"),
                                strstr (body, ">main<") ? "main" : "sub");
  }
  if (answer == NULL) {
    soup_server_message_set_status (msg, 500, NULL);
    return;
  }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/soap+xml", SOUP_MEMORY_COPY,
                                    answer, strlen (answer));
  (void) server;
  (void) path;
  (void) query;
}

static char *
digest_lookup (SoupAuthDomain *domain, SoupServerMessage *msg, const char *user,
               gpointer user_data)
{
  Device *device = user_data;

  (void) domain;
  (void) msg;
  if (!g_str_equal (user, "admin"))
    return NULL;
  return soup_auth_domain_digest_encode_password (user, "onvif", device->password);
}

static void
device_start (Device *device)
{
  g_autoptr (GError) error = NULL;
  GSList *uris;

  device->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (device->server, "/onvif", on_device_request, device, NULL);
  if (device->digest_http) {
    SoupAuthDomain *domain = soup_auth_domain_digest_new ("realm", "onvif", NULL);

    soup_auth_domain_digest_set_auth_callback (domain, digest_lookup, device, NULL);
    soup_auth_domain_add_path (domain, "/onvif");
    soup_server_add_auth_domain (device->server, domain);
    g_object_unref (domain);
  }
  g_assert_true (soup_server_listen_local (device->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY,
                                           &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (device->server);
  device->base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
}

static void
device_stop (Device *device)
{
  g_clear_object (&device->server);
  g_free (device->base);
}

typedef struct {
  gboolean done;
  gboolean ok;
  HearthResolved resolved;
  GError *error;
} Result;

static void
on_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Result *r = user_data;
  const HearthPlugin *plugin = hearth_plugin_get ();

  (void) source;
  r->ok = plugin->resolve_finish (result, &r->resolved, &r->error);
  r->done = TRUE;
}

static gboolean
is_done (gpointer data)
{
  return ((Result *) data)->done;
}

static void
resolve (HearthTestFixture *fixture, Device *device, const char *password, Result *result)
{
  const HearthPlugin *plugin = hearth_plugin_get ();
  g_autoptr (GHashTable) txt = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *xaddr = g_strdup_printf ("%s/onvif/device_service", device->base);
  HearthService service = {
    .type = "onvif", .name = "Acme Cam", .domain = "", .address = "127.0.0.1",
    .port = 80, .txt = txt,
  };

  g_hash_table_insert (txt, "xaddr", xaddr);
  g_hash_table_insert (txt, "epr", EPR);
  plugin->resolve_async (&service, "admin", password, NULL, on_resolved, result);
  g_assert_true (hearth_test_wait_for (fixture, is_done, result, 20));
}

static void
test_resolve (HearthTestFixture *fixture, gconstpointer data)
{
  Device device = { .password = "right horse", .digest_http = GPOINTER_TO_INT (data) };
  Result result = { 0 };

  device_start (&device);
  resolve (fixture, &device, "right horse", &result);
  g_assert_no_error (result.error);
  g_assert_true (result.ok);
  /* Credentials the device put in the URI are dropped. */
  g_assert_cmpstr (result.resolved.url, ==, "rtsp://127.0.0.1:8554/main");
  g_assert_cmpstr (result.resolved.sub_url, ==, "rtsp://127.0.0.1:8554/sub");
  g_assert_cmpstr (result.resolved.evidence.txt_id, ==, EPR);
  g_assert_cmpstr (result.resolved.evidence.serial, ==, "SN-1");
  g_assert_cmpstr (result.resolved.evidence.mac, ==, "00:11:22:aa:bb:cc");
  g_assert_cmpstr (result.resolved.evidence.maker, ==, "Acme");
  g_assert_cmpstr (result.resolved.evidence.model, ==, "C100");
  if (!device.digest_http)
    g_assert_cmpuint (device.tokens_ok, ==, 6);
  hearth_resolved_clear (&result.resolved);
  device_stop (&device);
}

static void
test_resolve_wrong_password (HearthTestFixture *fixture, gconstpointer data)
{
  Device device = { .password = "right horse", .digest_http = GPOINTER_TO_INT (data) };
  Result result = { 0 };

  device_start (&device);
  resolve (fixture, &device, "wrong horse", &result);
  g_assert_false (result.ok);
  g_assert_error (result.error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_NOT_AUTHORIZED);
  g_assert_null (strstr (result.error->message, "horse"));
  g_clear_error (&result.error);
  device_stop (&device);
}

static void
test_resolve_foreign_service (HearthTestFixture *fixture, gconstpointer data)
{
  Device device = { .password = "pw", .foreign_media = TRUE };
  Result result = { 0 };

  (void) data;
  device_start (&device);
  resolve (fixture, &device, "pw", &result);
  g_assert_false (result.ok);
  g_assert_error (result.error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID);
  g_assert_nonnull (strstr (result.error->message, "another host"));
  g_clear_error (&result.error);
  device_stop (&device);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/hearth/onvif/digest", test_digest);
  g_test_add_func ("/hearth/onvif/hello", test_hello);
  g_test_add_func ("/hearth/onvif/not-cameras", test_not_cameras);
  g_test_add_func ("/hearth/onvif/bye-and-matches", test_bye_matches);
  g_test_add_func ("/hearth/onvif/hostile", test_hostile);
  g_test_add_func ("/hearth/onvif/answers", test_answers);
  hearth_test_add ("/hearth/onvif/resolve", GINT_TO_POINTER (FALSE), test_resolve);
  hearth_test_add ("/hearth/onvif/resolve-http-digest", GINT_TO_POINTER (TRUE), test_resolve);
  hearth_test_add ("/hearth/onvif/wrong-password", GINT_TO_POINTER (FALSE),
                   test_resolve_wrong_password);
  hearth_test_add ("/hearth/onvif/wrong-password-http-digest", GINT_TO_POINTER (TRUE),
                   test_resolve_wrong_password);
  hearth_test_add ("/hearth/onvif/foreign-service", NULL, test_resolve_foreign_service);
  return g_test_run ();
}
