/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pairing from a browser: the pages the pairing port shows a phone that
 * opened the QR code's https:// link, and the identity files it hands over.
 *
 * HearthPairing (pairing.c) owns the windows and decides who gets what; this
 * file renders its pages, reads the form a browser posts, builds the Apple
 * configuration profile around the sealed PKCS#12 file (pki.c), and keeps the
 * files for a few minutes under an unguessable id (HearthDeliveries).
 *
 * Every page is HTML built here with every string that came from the store
 * or the request escaped (g_markup_escape_text); no page runs a script, and
 * each answer forbids caching, framing, referrers and any source but the
 * page's own stylesheet (hearth_pairing_web_secure_headers). Nothing here
 * ever sees the one-time code: the files arrive sealed with it.
 */
#define G_LOG_DOMAIN "hearth-pairing-web"

#include "pairing-web.h"

#include <string.h>

#include "error.h"
#include "hearth-web.h"
#include "http-request.h"
#include "pki.h"

#define DELIVERY_ID_BYTES 16
#define DELIVERY_PREFIX "/pair/d/"
#define STYLE_RESOURCE "/org/hearth/web/pairing.css"
#define FORM_TYPE "application/x-www-form-urlencoded"

/* --- headers and pages ------------------------------------------------------------ */

void
hearth_pairing_web_secure_headers (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_message_headers_replace (headers, "Content-Security-Policy",
                                "default-src 'none'; style-src 'self'; "
                                "form-action 'self'; base-uri 'none'; "
                                "frame-ancestors 'none'");
  soup_message_headers_replace (headers, "X-Frame-Options", "DENY");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
}

gboolean
hearth_pairing_web_is_page_path (const char *path)
{
  return g_str_equal (path, "/pair") || g_str_has_prefix (path, "/pair/");
}

static void
reply_page (SoupServerMessage *msg, guint status, const char *title, const char *body)
{
  g_autofree char *escaped_title = g_markup_escape_text (title, -1);
  char *html = g_strdup_printf (
      "<!DOCTYPE html>\n"
      "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>%s</title>\n"
      "<link rel=\"stylesheet\" href=\"/pair/style.css\">\n"
      "</head><body><main>\n%s</main></body></html>\n",
      escaped_title, body);

  hearth_pairing_web_secure_headers (msg);
  hearth_http_set_status (msg, status);
  soup_server_message_set_response (msg, "text/html; charset=utf-8", SOUP_MEMORY_TAKE,
                                    html, strlen (html));
}

void
hearth_pairing_web_reply_form (SoupServerMessage *msg, const char *gateway_name,
                               const char *household, const char *token_hex)
{
  g_autofree char *gateway = g_markup_escape_text (gateway_name, -1);
  g_autofree char *home = g_markup_escape_text (household, -1);
  g_autofree char *token = g_markup_escape_text (token_hex, -1);
  g_autofree char *body = g_strdup_printf (
      "<h1>Make this device a display of “%s”</h1>\n"
      "<p>The Hearth gateway <strong>%s</strong> will let this device watch the "
      "cameras of the household <strong>%s</strong>, and no others.</p>\n"
      "<form method=\"post\" action=\"/pair\">\n"
      "<input type=\"hidden\" name=\"t\" value=\"%s\">\n"
      "<label for=\"name\">A name for this display</label>\n"
      "<input id=\"name\" name=\"name\" maxlength=\"64\" required "
      "placeholder=\"Kitchen tablet\">\n"
      "<button type=\"submit\">Pair</button>\n"
      "</form>\n"
      "<p>Next you download this device's identity, sealed with the one-time "
      "code shown next to the QR code. Type that code only into your device's "
      "own certificate installer, never into a web page.</p>\n",
      home, gateway, home, token);

  reply_page (msg, SOUP_STATUS_OK, "Pair with Hearth", body);
}

void
hearth_pairing_web_reply_gone (SoupServerMessage *msg)
{
  reply_page (msg, SOUP_STATUS_GONE, "Pairing link not valid",
              "<h1>This pairing link was used or has expired</h1>\n"
              "<p>Each link pairs one device, for a few minutes. Ask for a new "
              "code: on the gateway, <code>hearthctl pair --household NAME</code> "
              "shows a new QR code and a new one-time code.</p>\n");
}

void
hearth_pairing_web_reply_problem (SoupServerMessage *msg, guint status, const char *message)
{
  g_autofree char *text = g_markup_escape_text (message, -1);
  g_autofree char *body = g_strdup_printf ("<h1>Not paired</h1>\n<p>%s</p>\n", text);

  reply_page (msg, status, "Not paired", body);
}

void
hearth_pairing_web_reply_done (SoupServerMessage *msg, const char *household,
                               const char *display_name, const char *delivery_id,
                               const char *stream_url)
{
  g_autofree char *home = g_markup_escape_text (household, -1);
  g_autofree char *name = g_markup_escape_text (display_name, -1);
  g_autofree char *id = g_markup_escape_text (delivery_id, -1);
  g_autofree char *url = g_markup_escape_text (stream_url, -1);
  g_autofree char *body = g_strdup_printf (
      "<h1>“%s” is paired with “%s”</h1>\n"
      "<p>Install this device's identity now; these files can be downloaded "
      "for %d minutes. Each asks for the one-time code shown next to the QR "
      "code: type it exactly as shown, with its dashes.</p>\n"
      "<ul class=\"files\">\n"
      "<li><a href=\"/pair/d/%s/hearth.p12\">hearth.p12</a>: the identity "
      "(Android, Windows, Linux, ChromeOS, Mac)</li>\n"
      "<li><a href=\"/pair/d/%s/hearth.mobileconfig\">hearth.mobileconfig</a>: "
      "identity and gateway certificate in one profile (iPhone, iPad, Mac)</li>\n"
      "<li><a href=\"/pair/d/%s/ca.crt\">ca.crt</a>: the gateway's "
      "certificate, for the browser to trust</li>\n"
      "</ul>\n"
      "<h2>Android</h2>\n<ol>\n"
      "<li>Download <strong>hearth.p12</strong> and <strong>ca.crt</strong>.</li>\n"
      "<li>Settings → Security (or Security &amp; privacy) → Encryption &amp; credentials → "
      "Install a certificate → <strong>VPN &amp; app user certificate</strong> (on some "
      "phones “User certificate”): pick hearth.p12 and enter the code.</li>\n"
      "<li>Same place → <strong>CA certificate</strong>: pick ca.crt.</li>\n"
      "</ol>\n"
      "<h2>iPhone and iPad</h2>\n<ol>\n"
      "<li>Open this page in Safari and download <strong>hearth.mobileconfig</strong>; "
      "allow the download.</li>\n"
      "<li>Settings → <strong>Profile Downloaded</strong> → Install; enter your "
      "passcode, then the code when it asks for the password.</li>\n"
      "<li>Settings → General → About → Certificate Trust Settings: turn on full "
      "trust for the Hearth gateway.</li>\n"
      "</ol>\n"
      "<h2>Mac</h2>\n<ol>\n"
      "<li>Download <strong>hearth.mobileconfig</strong> and install it in System "
      "Settings → Privacy &amp; Security → Profiles (enter the code when asked), or "
      "open <strong>hearth.p12</strong> and <strong>ca.crt</strong> in Keychain Access "
      "(the code is the .p12's password) and set the certificate to “Always Trust”.</li>\n"
      "</ol>\n"
      "<h2>Chrome, Edge or Firefox on Windows and Linux</h2>\n<ol>\n"
      "<li>Download <strong>hearth.p12</strong> and <strong>ca.crt</strong>.</li>\n"
      "<li>Chrome and Edge: Settings → Privacy and security → Security → Manage "
      "certificates → Import hearth.p12 with the code; import ca.crt as a trusted "
      "authority for websites. Firefox: Settings → Privacy &amp; Security → View "
      "Certificates → Your Certificates → Import hearth.p12; Authorities → Import ca.crt, "
      "trusted to identify websites.</li>\n"
      "</ol>\n"
      "<p>Then open <a href=\"%s\">%s</a> and choose this identity when asked.</p>\n",
      name, home, (int) (HEARTH_PAIRING_DELIVERY_US / (60 * G_USEC_PER_SEC)),
      id, id, id, url, url);

  reply_page (msg, SOUP_STATUS_OK, "Paired with Hearth", body);
}

void
hearth_pairing_web_reply_style (SoupServerMessage *msg)
{
  g_autoptr (GBytes) style =
      g_resource_lookup_data (hearth_web_get_resource (), STYLE_RESOURCE, 0, NULL);

  hearth_pairing_web_secure_headers (msg);
  if (style == NULL) {
    hearth_http_set_status (msg, SOUP_STATUS_NOT_FOUND);
    return;
  }
  hearth_http_set_status (msg, SOUP_STATUS_OK);
  soup_server_message_set_response (msg, "text/css; charset=utf-8", SOUP_MEMORY_COPY,
                                    g_bytes_get_data (style, NULL),
                                    g_bytes_get_size (style));
}

/* --- the form ---------------------------------------------------------------------- */

GHashTable *
hearth_pairing_web_read_form (SoupServerMessage *msg, GError **error)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *type = soup_message_headers_get_content_type (headers, NULL);
  g_autoptr (GBytes) body = NULL;

  if (g_strcmp0 (type, FORM_TYPE) != 0) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "the request is not a form (" FORM_TYPE ")");
    return NULL;
  }
  body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  return hearth_pairing_web_parse_form (g_bytes_get_data (body, NULL),
                                        g_bytes_get_size (body), error);
}

GHashTable *
hearth_pairing_web_parse_form (const char *body, gsize len, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *text = g_strndup (body, len);
  GHashTable *form;

  /* A '%' always starts an escape ('%' itself is "%25"), so "%00" is a NUL. */
  if (strlen (text) != len || strstr (text, "%00") != NULL) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "the form holds a NUL character");
    return NULL;
  }
  /* Percent-decoded, '+' read as a space, and checked as UTF-8. */
  form = g_uri_parse_params (text, -1, "&", G_URI_PARAMS_WWW_FORM, &local_error);
  if (form == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "the form is not well encoded: %s", local_error->message);
    return NULL;
  }
  return form;
}

/* --- the Apple configuration profile ------------------------------------------------ */

static void
plist_string (GString *out, const char *key, const char *value)
{
  g_autofree char *k = g_markup_escape_text (key, -1);
  g_autofree char *v = g_markup_escape_text (value, -1);

  g_string_append_printf (out, "<key>%s</key><string>%s</string>\n", k, v);
}

static void
plist_data (GString *out, const char *key, GBytes *data)
{
  g_autofree char *b64 = g_base64_encode (g_bytes_get_data (data, NULL),
                                          g_bytes_get_size (data));

  g_string_append_printf (out, "<key>%s</key><data>%s</data>\n", key, b64);
}

/* The keys every payload has, with a new random UUID. */
static void
plist_payload_common (GString *out, const char *type, const char *display_name,
                      const char *description)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *upper = g_ascii_strup (uuid, -1);
  g_autofree char *identifier = g_strdup_printf ("hearth.pairing.%s", upper);

  plist_string (out, "PayloadType", type);
  plist_string (out, "PayloadDisplayName", display_name);
  plist_string (out, "PayloadDescription", description);
  plist_string (out, "PayloadIdentifier", identifier);
  plist_string (out, "PayloadUUID", upper);
  g_string_append (out, "<key>PayloadVersion</key><integer>1</integer>\n");
}

GBytes *
hearth_pairing_web_mobileconfig (GBytes *p12, GBytes *ca_der, const char *gateway_name,
                                 const char *household, const char *display_name)
{
  GString *out = g_string_new (NULL);
  g_autofree char *ca_name = g_strdup_printf ("Hearth gateway %s", gateway_name);
  g_autofree char *identity_name = g_strdup_printf ("Hearth display %s", display_name);
  g_autofree char *profile_name = g_strdup_printf ("Hearth: %s", household);
  g_autofree char *profile_description = g_strdup_printf (
      "Makes this device the display “%s” of the household “%s” on the Hearth "
      "gateway %s. The identity asks for the one-time code shown with the QR code.",
      display_name, household, gateway_name);

  g_string_append (out,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
                   "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
                   "<plist version=\"1.0\">\n<dict>\n"
                   "<key>PayloadContent</key>\n<array>\n<dict>\n");
  plist_payload_common (out, "com.apple.security.root", ca_name,
                        "The certificate that identifies the Hearth gateway.");
  plist_string (out, "PayloadCertificateFileName", "ca.crt");
  plist_data (out, "PayloadContent", ca_der);
  g_string_append (out, "</dict>\n<dict>\n");
  /* No "Password" key: the device asks for the code when it installs. */
  plist_payload_common (out, "com.apple.security.pkcs12", identity_name,
                        "This display's identity (key and certificate).");
  plist_string (out, "PayloadCertificateFileName", "hearth.p12");
  plist_data (out, "PayloadContent", p12);
  g_string_append (out, "</dict>\n</array>\n");
  plist_payload_common (out, "Configuration", profile_name, profile_description);
  g_string_append (out, "<key>PayloadRemovalDisallowed</key><false/>\n"
                        "</dict>\n</plist>\n");
  return g_string_free_to_bytes (out);
}

/* --- deliveries ---------------------------------------------------------------------- */

typedef struct {
  GBytes *p12;
  GBytes *mobileconfig;
  GBytes *ca_der;
  gint64 expires_at;
} Delivery;

struct _HearthDeliveries {
  GHashTable *by_id; /* id (32 hex) → Delivery */
};

static void
delivery_free (Delivery *d)
{
  g_bytes_unref (d->p12);
  g_bytes_unref (d->mobileconfig);
  g_bytes_unref (d->ca_der);
  g_free (d);
}

HearthDeliveries *
hearth_deliveries_new (void)
{
  HearthDeliveries *self = g_new0 (HearthDeliveries, 1);

  self->by_id = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) delivery_free);
  return self;
}

void
hearth_deliveries_free (HearthDeliveries *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->by_id);
  g_free (self);
}

char *
hearth_deliveries_add (HearthDeliveries *self, GBytes *p12, GBytes *mobileconfig,
                       GBytes *ca_der, gint64 expires_at, GError **error)
{
  guint8 raw[DELIVERY_ID_BYTES];
  Delivery *d;
  char *id;

  if (!hearth_pki_random (raw, sizeof raw, error))
    return NULL;
  id = g_malloc (2 * sizeof raw + 1);
  for (gsize i = 0; i < sizeof raw; i++)
    g_snprintf (id + 2 * i, 3, "%02x", raw[i]);
  d = g_new0 (Delivery, 1);
  d->p12 = g_bytes_ref (p12);
  d->mobileconfig = g_bytes_ref (mobileconfig);
  d->ca_der = g_bytes_ref (ca_der);
  d->expires_at = expires_at;
  g_hash_table_replace (self->by_id, g_strdup (id), d);
  return id;
}

gboolean
hearth_deliveries_serve (HearthDeliveries *self, SoupServerMessage *msg,
                         const char *path, gint64 now)
{
  g_autofree char *id = NULL;
  const char *slash, *file, *type;
  SoupMessageHeaders *headers;
  g_autofree char *disposition = NULL;
  Delivery *d;
  GBytes *bytes;

  if (!g_str_has_prefix (path, DELIVERY_PREFIX))
    return FALSE;
  slash = strchr (path + strlen (DELIVERY_PREFIX), '/');
  if (slash == NULL)
    return FALSE;
  id = g_strndup (path + strlen (DELIVERY_PREFIX),
                  (gsize) (slash - path) - strlen (DELIVERY_PREFIX));
  file = slash + 1;
  d = g_hash_table_lookup (self->by_id, id);
  if (d == NULL || d->expires_at <= now)
    return FALSE;

  if (g_str_equal (file, "hearth.p12")) {
    bytes = d->p12;
    type = "application/x-pkcs12";
  } else if (g_str_equal (file, "hearth.mobileconfig")) {
    bytes = d->mobileconfig;
    type = "application/x-apple-aspen-config";
  } else if (g_str_equal (file, "ca.crt")) {
    bytes = d->ca_der;
    type = "application/x-x509-ca-cert";
  } else {
    return FALSE;
  }

  hearth_pairing_web_secure_headers (msg);
  headers = soup_server_message_get_response_headers (msg);
  /* Files to save and import; but Safari hands a profile to the installer
   * by its type, which an attachment would turn into a saved file. */
  if (bytes != d->mobileconfig) {
    disposition = g_strdup_printf ("attachment; filename=\"%s\"", file);
    soup_message_headers_replace (headers, "Content-Disposition", disposition);
  }
  hearth_http_set_status (msg, SOUP_STATUS_OK);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY,
                                    g_bytes_get_data (bytes, NULL),
                                    g_bytes_get_size (bytes));
  return TRUE;
}

gint64
hearth_deliveries_expire (HearthDeliveries *self, gint64 now)
{
  GHashTableIter iter;
  Delivery *d;
  gint64 next = 0;

  g_hash_table_iter_init (&iter, self->by_id);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &d)) {
    if (d->expires_at <= now)
      g_hash_table_iter_remove (&iter);
    else if (next == 0 || d->expires_at < next)
      next = d->expires_at;
  }
  return next;
}

void
hearth_deliveries_clear (HearthDeliveries *self)
{
  g_hash_table_remove_all (self->by_id);
}
