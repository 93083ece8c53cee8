/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthPairing: how a display joins a household.
 *
 * An admin opens a window (hearthctl pair): a 128-bit random token is made,
 * only its SHA-256 is stored with the household, the expiry and one use, and
 * the token itself leaves the daemon only inside the QR payload, an https://
 * link. With it comes a one-time code for phones and browsers, kept only in
 * this process's memory for the window and shown only where the QR code is.
 *
 * While any window is open, a TLS listener (server authentication only) takes
 *   POST /v1/pair   from hearth-display, which pins the gateway's root CA by
 *                   the payload's fingerprint and sends its own public key;
 *   GET /pair?...   the link itself, opened by a phone's camera: a page that
 *                   names the household to whoever holds a valid token;
 *   POST /pair      that page's form: the gateway makes the browser's key and
 *                   hands the identity over as PKCS#12 sealed with the code
 *                   (pairing-web.c renders and keeps the files, for a few
 *                   minutes, at /pair/d/<id>/...).
 * Both pairings go through redeem(): token check, display row, client
 * certificate signed by the household CA (and the sealed file), token spent,
 * audit entry, all in one store transaction. Someone who relays the link
 * alone gets at most a file that does not open without the code. Peers
 * outside the local ranges are refused; repeated failures from one address
 * are answered 429 without touching the store.
 */
#define G_LOG_DOMAIN "hearth-pairing"

#include "pairing.h"
#include "pairing-web.h"
#include "error.h"
#include "http-request.h"
#include "json-text.h"
#include "listener.h"
#include "peers.h"
#include "payload.h"
#include "pki.h"

#include <string.h>

#define MAX_BODY 16384
#define MAX_PUBLIC_KEY 4096
#define FAILURE_WINDOW_US (60 * G_USEC_PER_SEC)
/* Peers remembered for rate limiting; past that, old entries are dropped,
 * and if none is old, unknown peers are limited too. */
#define MAX_FAILING_PEERS 1024
/* The pairing port's connections: a pairing is one request, by one display,
 * while an admin waits for it. */
#define MAX_CONNECTIONS 16
#define MAX_PENDING 8
#define MAX_PENDING_PER_PEER 4
#define HANDSHAKE_DEADLINE_US (5 * G_USEC_PER_SEC)
#define CONNECTION_LIFETIME_US (60 * G_USEC_PER_SEC)

/* The one-time code: 12 symbols of 5 bits (60 bits), grouped by four. */
#define CODE_SYMBOLS 12
#define CODE_GROUP 4
#define CODE_LEN (CODE_SYMBOLS + CODE_SYMBOLS / CODE_GROUP - 1)
/* Digits and lowercase letters (easy to type on a phone) with no 1, i, l or
 * o, so that what is read is what is typed: 0 is a zero. */
static const char code_alphabet[] = "023456789abcdefghjkmnpqrstuvwxyz";

typedef struct {
  gint64 window_id;
  gint64 expires_at;
  gint64 household_id;
  guint8 token_hash[32];
  char code[CODE_LEN + 1];  /* wiped when the window ends */
} OpenWindow;

struct _HearthPairing {
  GObject parent_instance;

  HearthStore *store;
  HearthAccess *access;
  const HearthConfig *config;
  GTlsCertificate *certificate; /* served, chained to the root CA */
  char *certificate_pem;        /* the root CA: what displays pin */
  char *fingerprint;
  guint16 stream_port;

  SoupServer *soup;           /* non-NULL while a window is open */
  HearthGate *gate;           /* the listener's caps and deadlines */
  guint16 port;               /* kept across re-opens when configured as 0 */
  GArray *windows;            /* of OpenWindow: opened by this process */
  HearthDeliveries *deliveries; /* browsers' identity files, for minutes */
  guint expiry_source;
  HearthPeerCounter *failures; /* failed pairings per peer, per minute */
};

enum { SIGNAL_PAIRED, SIGNAL_WINDOW_CLOSED, SIGNAL_LISTENER_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (HearthPairing, hearth_pairing, G_TYPE_OBJECT)

static void schedule_expiry (HearthPairing *self);

/* --- addresses ----------------------------------------------------------------- */

/* The addresses a display should dial for @listen, with @port. A listener
 * on the any address takes one family only (hearth_gate_listen_socket makes
 * IPv6 ones IPV6_V6ONLY): 0.0.0.0 is reached at the IPv4 addresses, :: at
 * the IPv6 ones. */
static GPtrArray *
advertised_addresses (HearthPairing *self, const char *listen, guint16 port)
{
  g_autofree char *host = NULL;
  g_autoptr (GInetAddress) inet = NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  if (!hearth_parse_host_port (listen, &host, NULL, NULL))
    return out;
  inet = g_inet_address_new_from_string (host);
  if (inet != NULL && g_inet_address_get_is_any (inet)) {
    g_autoptr (GPtrArray) local = hearth_net_local_addresses (self->config->local_ranges);
    GSocketFamily family = g_inet_address_get_family (inet);

    for (guint i = 0; i < local->len && out->len < HEARTH_PAYLOAD_MAX_ADDRESSES; i++) {
      g_autoptr (GInetAddress) address = g_inet_address_new_from_string (local->pdata[i]);

      if (address != NULL && g_inet_address_get_family (address) == family)
        g_ptr_array_add (out, hearth_format_host_port (local->pdata[i], port));
    }
  } else {
    g_ptr_array_add (out, hearth_format_host_port (host, port));
  }
  return out;
}

/* --- windows in memory ---------------------------------------------------------- */

static void
make_code (const guint8 random[CODE_SYMBOLS], char code[CODE_LEN + 1])
{
  char *out = code;

  for (guint i = 0; i < CODE_SYMBOLS; i++) {
    if (i > 0 && i % CODE_GROUP == 0)
      *out++ = '-';
    /* 256 is a multiple of 32: every symbol is equally likely. */
    *out++ = code_alphabet[random[i] % 32];
  }
  *out = '\0';
}

static void
window_forget (HearthPairing *self, guint index)
{
  explicit_bzero (&g_array_index (self->windows, OpenWindow, index), sizeof (OpenWindow));
  g_array_remove_index (self->windows, index);
}

static void
window_forget_id (HearthPairing *self, gint64 window_id)
{
  for (guint i = 0; i < self->windows->len; i++)
    if (g_array_index (self->windows, OpenWindow, i).window_id == window_id) {
      window_forget (self, i);
      return;
    }
}

/* The open window opened by this process whose token hashes to @hash, or
 * NULL. Every window is compared, in constant time. */
static OpenWindow *
window_find (HearthPairing *self, const guint8 hash[32], gint64 now)
{
  OpenWindow *found = NULL;

  for (guint i = 0; i < self->windows->len; i++) {
    OpenWindow *w = &g_array_index (self->windows, OpenWindow, i);

    if (hearth_pki_equal_ct (w->token_hash, hash, sizeof w->token_hash))
      found = w;
  }
  return found != NULL && found->expires_at > now ? found : NULL;
}

/* --- the listener ------------------------------------------------------------- */

/* Limited once it failed max-failures-per-minute times; when the table is
 * full of peers still in their minute, unknown peers are limited too. */
static gboolean
peer_rate_limited (HearthPairing *self, const char *peer)
{
  return hearth_peer_counter_get (self->failures, peer) >= self->config->pairing_max_failures;
}

static void
peer_failed (HearthPairing *self, const char *peer)
{
  hearth_peer_counter_add (self->failures, peer);
}

typedef struct {
  HearthPairing *self;
  const char *public_key;
  /* A browser's pairing: the key the gateway made for it, the code that seals
   * it, and the sealed PKCS#12 file, made inside the redeem's transaction so
   * that a pairing whose file cannot be made does not happen. */
  const char *key_pem;
  const char *code;
  char *friendly_name;
  GBytes *p12;
} IssueData;

static gboolean
issue_certificate (const HearthHousehold *household, gint64 display_id,
                   gpointer user_data, char **cert_pem, char **fingerprint,
                   GError **error)
{
  IssueData *data = user_data;
  g_autofree char *cn = g_strdup_printf ("hearth display %" G_GINT64_FORMAT,
                                         display_id);
  g_autofree char *pem = hearth_pki_issue_client_cert (
      household->ca_cert_pem, household->ca_key_pem, data->public_key, cn,
      (guint64) display_id, HEARTH_PKI_CLIENT_DAYS, error);

  if (pem == NULL)
    return FALSE;
  if (data->key_pem != NULL) {
    const char *const anchors[] = {
      hearth_pairing_trust_anchor_pem (data->self), NULL
    };

    g_clear_pointer (&data->p12, g_bytes_unref);
    data->p12 = hearth_pki_make_pkcs12 (data->key_pem, pem, anchors, data->friendly_name,
                                        data->code, error);
    if (data->p12 == NULL)
      return FALSE;
  }
  *fingerprint = hearth_pki_fingerprint_pem (pem, error);
  if (*fingerprint == NULL)
    return FALSE;
  *cert_pem = g_steal_pointer (&pem);
  return TRUE;
}

static gboolean
valid_display_name (const char *name)
{
  gsize len;

  if (name == NULL || !g_utf8_validate (name, -1, NULL))
    return FALSE;
  len = strlen (name);
  if (len == 0 || len > 64)
    return FALSE;
  for (const char *p = name; *p; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

static gboolean
token_hash_from_hex (const char *hex, guint8 hash[32])
{
  guint8 token[16];
  gsize len = 32;
  g_autoptr (GChecksum) sum = NULL;

  if (hex == NULL || strlen (hex) != 32)
    return FALSE;
  for (guint i = 0; i < 16; i++) {
    int hi = g_ascii_xdigit_value (hex[2 * i]);
    int lo = g_ascii_xdigit_value (hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return FALSE;
    token[i] = (guint8) (hi << 4 | lo);
  }
  sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, token, sizeof token);
  g_checksum_get_digest (sum, hash, &len);
  return TRUE;
}

/**
 * hearth_pairing_parse_request:
 * @body: the body of POST /v1/pair (not NUL-terminated)
 * @len: its length
 * @token_hash: (out caller-allocates): SHA-256 of the token it holds
 * @public_key: (out) (transfer full): the display's PEM public key, unchecked
 * @name: (out) (transfer full): the display's name
 *
 * Reads a display's pairing request: a JSON object with "token" (32 hex
 * digits), "public_key" and "name". The error's message is what the
 * display is told.
 */
gboolean
hearth_pairing_parse_request (const char *body, gsize len, guint8 token_hash[32],
                              char **public_key, char **name, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  HearthJsonScan scan;
  JsonObject *object;
  const char *token, *key, *display_name;

  if (len == 0) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "the request has no body");
    return FALSE;
  }
  /* json-glib would cut a string at a NUL ("Ho\u0000me" as "Ho"). */
  hearth_json_scan (body, len, &scan);
  if (scan.has_nul) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "the request has a NUL character (\\u0000) in a string");
    return FALSE;
  }
  /* Whitespace alone parses, to no root at all. */
  if (!json_parser_load_from_data (parser, body, len, NULL) ||
      json_parser_get_root (parser) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "the request is not a JSON object");
    return FALSE;
  }
  object = json_node_get_object (json_parser_get_root (parser));
  token = hearth_json_get_string (object, "token");
  key = hearth_json_get_string (object, "public_key");
  display_name = hearth_json_get_string (object, "name");

  if (!token_hash_from_hex (token, token_hash)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "token: want 32 hexadecimal digits");
    return FALSE;
  }
  if (key == NULL || strlen (key) > MAX_PUBLIC_KEY) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "public_key: want a PEM public key");
    return FALSE;
  }
  if (!valid_display_name (display_name)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "name: want 1 to 64 bytes of UTF-8 without control characters");
    return FALSE;
  }
  *public_key = g_strdup (key);
  *name = g_strdup (display_name);
  return TRUE;
}

/**
 * hearth_pairing_parse_form:
 * @form: the fields of POST /pair (hearth_pairing_web_parse_form())
 * @token_hash: (out caller-allocates): SHA-256 of the token ("t")
 * @name: (out) (transfer none): the name the browser chose, in @form
 *
 * Checks a browser's pairing form. The error's message is what the page
 * tells its user.
 */
gboolean
hearth_pairing_parse_form (GHashTable *form, guint8 token_hash[32], const char **name,
                           GError **error)
{
  const char *display_name = g_hash_table_lookup (form, "name");

  if (!token_hash_from_hex (g_hash_table_lookup (form, "t"), token_hash)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "The pairing link is incomplete: scan the QR code again.");
    return FALSE;
  }
  if (!valid_display_name (display_name)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "The name must be 1 to 64 bytes long, without "
                         "control characters. Go back and choose another.");
    return FALSE;
  }
  *name = display_name;
  return TRUE;
}

static JsonNode *
pairing_answer (HearthPairing *self, const HearthDisplayRow *display)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (HearthHousehold) household =
      hearth_store_household_get (self->store, display->household_id, NULL);
  g_autoptr (GPtrArray) streams =
      advertised_addresses (self, self->config->listen, self->stream_port);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "display_id");
  json_builder_add_int_value (b, display->id);
  json_builder_set_member_name (b, "household");
  json_builder_add_string_value (b, display->household);
  json_builder_set_member_name (b, "certificate");
  json_builder_add_string_value (b, display->cert_pem);
  json_builder_set_member_name (b, "ca_certificate");
  json_builder_add_string_value (b, household ? household->ca_cert_pem : "");
  json_builder_set_member_name (b, "gateway_certificate");
  json_builder_add_string_value (b, self->certificate_pem);
  json_builder_set_member_name (b, "stream_addresses");
  json_builder_begin_array (b);
  for (guint i = 0; i < streams->len; i++)
    json_builder_add_string_value (b, streams->pdata[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gboolean
reschedule_idle (gpointer user_data)
{
  schedule_expiry (user_data);
  return G_SOURCE_REMOVE;
}

static void
on_answer_sent (SoupServerMessage *msg, gpointer user_data)
{
  /* Not from inside the message's own signal: closing the listener frees it. */
  g_idle_add_full (G_PRIORITY_DEFAULT, reschedule_idle, g_object_ref (user_data),
                   g_object_unref);
}

/*
 * The one pairing, for displays and browsers: in one store transaction the
 * token is checked, the display row made, the certificate (and a browser's
 * sealed file) issued, the token spent and the pairing audited. A refusal
 * counts against @peer.
 */
static HearthDisplayRow *
redeem (HearthPairing *self, const char *peer, const guint8 hash[32], const char *name,
        IssueData *issue, gint64 *window_id, GError **error)
{
  HearthDisplayRow *display;

  display = hearth_store_pairing_redeem (self->store, hash, g_get_real_time (), name,
                                         issue_certificate, issue, window_id, error);
  if (display == NULL) {
    peer_failed (self, peer);
    g_message ("Pairing from %s refused: %s", peer, (*error)->message);
    return NULL;
  }
  g_message ("Display %" G_GINT64_FORMAT " (“%s”) paired into household “%s”%s",
             display->id, display->name, display->household,
             issue->key_pem != NULL ? " from a browser" : "");
  return display;
}

/* After the answer to a pairing is set: the window is spent. */
static void
redeemed (HearthPairing *self, SoupServerMessage *msg, gint64 window_id,
          const HearthDisplayRow *display)
{
  window_forget_id (self, window_id);
  g_signal_emit (self, signals[SIGNAL_PAIRED], 0, window_id, display->id,
                 display->name);
  /* The listener may close now that this window is spent, but only once the
   * answer has reached the display. */
  g_signal_connect_object (msg, "finished", G_CALLBACK (on_answer_sent), self, 0);
}

/* POST /v1/pair: hearth-display, with its own public key. */
static void
handle_display_pair (HearthPairing *self, SoupServerMessage *msg, const char *peer)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthDisplayRow) display = NULL;
  g_autoptr (JsonNode) answer = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autofree char *public_key = NULL;
  g_autofree char *name = NULL;
  SoupMessageBody *request_body;
  guint8 hash[32];
  gint64 window_id = 0;
  IssueData issue = { 0, };

  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST) {
    hearth_http_reply_error (msg, 405, "method_not_allowed", "use POST");
    return;
  }

  request_body = soup_server_message_get_request_body (msg);
  body = soup_message_body_flatten (request_body);
  if (!hearth_pairing_parse_request (g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                     hash, &public_key, &name, &error)) {
    peer_failed (self, peer);
    hearth_http_reply_error (msg, 400, "bad_request", error->message);
    return;
  }

  issue.self = self;
  issue.public_key = public_key;
  display = redeem (self, peer, hash, name, &issue, &window_id, &error);
  if (display == NULL) {
    hearth_http_reply_gerror (msg, error);
    return;
  }
  answer = pairing_answer (self, display);
  hearth_http_reply_json (msg, SOUP_STATUS_OK, answer);
  redeemed (self, msg, window_id, display);
}

/* GET /pair?...: the QR code's link, opened in a browser. The household is
 * named only to someone holding a token that can still pair. */
static void
handle_link (HearthPairing *self, SoupServerMessage *msg, GHashTable *query,
             const char *peer)
{
  const char *token = query != NULL ? g_hash_table_lookup (query, "t") : NULL;
  g_autoptr (HearthHousehold) household = NULL;
  OpenWindow *w;
  guint8 hash[32];

  if (!token_hash_from_hex (token, hash) ||
      (w = window_find (self, hash, g_get_real_time ())) == NULL ||
      (household = hearth_store_household_get (self->store, w->household_id, NULL)) == NULL) {
    peer_failed (self, peer);
    hearth_pairing_web_reply_gone (msg);
    return;
  }
  hearth_pairing_web_reply_form (msg, self->config->name, household->name, token);
}

/* Where the browser watches once paired: the host it reached us at. */
static char *
stream_url (HearthPairing *self, SoupServerMessage *msg)
{
  const char *host = g_uri_get_host (soup_server_message_get_uri (msg));
  g_autoptr (GPtrArray) streams = NULL;

  if (host != NULL && *host != '\0')
    return g_strdup_printf (strchr (host, ':') != NULL ? "https://[%s]:%u/" : "https://%s:%u/",
                            host, self->stream_port);
  streams = advertised_addresses (self, self->config->listen, self->stream_port);
  return g_strdup_printf ("https://%s/", streams->len > 0 ? (char *) streams->pdata[0]
                                                          : "localhost");
}

/* POST /pair: the form. The gateway makes the browser's key, and the
 * identity leaves only sealed with the window's code. */
static void
handle_browser_pair (HearthPairing *self, SoupServerMessage *msg, const char *peer)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) form = NULL;
  g_autoptr (HearthDisplayRow) display = NULL;
  g_autoptr (GBytes) ca_der = NULL;
  g_autoptr (GBytes) mobileconfig = NULL;
  g_autofree char *key_pem = NULL;
  g_autofree char *public_key = NULL;
  g_autofree char *delivery = NULL;
  g_autofree char *url = NULL;
  const char *name;
  char code[CODE_LEN + 1];
  OpenWindow *w;
  guint8 hash[32];
  gint64 window_id = 0;
  IssueData issue = { 0, };

  form = hearth_pairing_web_read_form (msg, &error);
  if (form == NULL) {
    peer_failed (self, peer);
    hearth_pairing_web_reply_problem (msg, SOUP_STATUS_BAD_REQUEST, error->message);
    return;
  }
  if (!hearth_pairing_parse_form (form, hash, &name, &error)) {
    peer_failed (self, peer);
    hearth_pairing_web_reply_problem (msg, SOUP_STATUS_BAD_REQUEST, error->message);
    return;
  }
  /* Only a window with a code can seal an identity: one opened before
   * hearthd restarted has none (hearth-display can still use it). */
  w = window_find (self, hash, g_get_real_time ());
  if (w == NULL) {
    peer_failed (self, peer);
    hearth_pairing_web_reply_gone (msg);
    return;
  }
  memcpy (code, w->code, sizeof code);

  key_pem = hearth_pki_generate_key (&error);
  public_key = key_pem != NULL ? hearth_pki_public_key_from_private (key_pem, &error) : NULL;
  ca_der = hearth_pki_cert_der_from_pem (hearth_pairing_trust_anchor_pem (self), &error);
  if (public_key != NULL && ca_der != NULL) {
    issue.self = self;
    issue.public_key = public_key;
    issue.key_pem = key_pem;
    issue.code = code;
    issue.friendly_name = g_strdup_printf ("Hearth display %s", name);
    /* Sealing the file takes a few hundred milliseconds of key derivation;
     * it happens at most once per window an admin opened. */
    display = redeem (self, peer, hash, name, &issue, &window_id, &error);
  }
  explicit_bzero (code, sizeof code);
  if (key_pem != NULL)
    explicit_bzero (key_pem, strlen (key_pem));
  g_free (issue.friendly_name);
  if (display == NULL) {
    g_clear_pointer (&issue.p12, g_bytes_unref);
    if (error->domain == HEARTH_ERROR && (error->code == HEARTH_ERROR_TOKEN_INVALID ||
                                          error->code == HEARTH_ERROR_TOKEN_EXPIRED ||
                                          error->code == HEARTH_ERROR_TOKEN_SPENT))
      hearth_pairing_web_reply_gone (msg);
    else if (error->domain == HEARTH_ERROR && error->code == HEARTH_ERROR_INVALID)
      hearth_pairing_web_reply_problem (msg, SOUP_STATUS_BAD_REQUEST, error->message);
    else
      hearth_pairing_web_reply_problem (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
                                        "The gateway could not pair this device; its log says why.");
    return;
  }

  mobileconfig = hearth_pairing_web_mobileconfig (issue.p12, ca_der, self->config->name,
                                                  display->household, display->name);
  delivery = hearth_deliveries_add (self->deliveries, issue.p12, mobileconfig, ca_der,
                                    g_get_real_time () + HEARTH_PAIRING_DELIVERY_US, &error);
  g_clear_pointer (&issue.p12, g_bytes_unref);
  if (delivery == NULL) {
    g_warning ("Display %" G_GINT64_FORMAT " paired, but its files cannot be kept: %s",
               display->id, error->message);
    hearth_pairing_web_reply_problem (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
                                      "The gateway could not pair this device; its log says why.");
  } else {
    url = stream_url (self, msg);
    hearth_pairing_web_reply_done (msg, display->household, display->name, delivery, url);
  }
  redeemed (self, msg, window_id, display);
}

/* A refusal before any route: JSON for hearth-display, a page for a browser. */
static void
reply_refusal (SoupServerMessage *msg, const char *path, guint status, const char *code,
               const char *message)
{
  if (hearth_pairing_web_is_page_path (path))
    hearth_pairing_web_reply_problem (msg, status, message);
  else
    hearth_http_reply_error (msg, status, code, message);
}

static void
handle_request (SoupServer *soup, SoupServerMessage *msg, const char *path,
                GHashTable *query, gpointer user_data)
{
  HearthPairing *self = user_data;
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  const char *method = soup_server_message_get_method (msg);
  gboolean get = method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD;
  g_autofree char *peer = NULL;
  g_autoptr (GError) error = NULL;

  if (soup_server_message_get_status (msg) != 0)
    return; /* answered in got-headers */
  if (!hearth_access_check_peer (self->access, remote, &error)) {
    g_message ("Pairing refused: %s", error->message);
    reply_refusal (msg, path, 403, "not_local", "pairing is only possible from the local network");
    return;
  }
  peer = hearth_peer_key (remote);
  if (peer_rate_limited (self, peer)) {
    reply_refusal (msg, path, 429, "rate_limited",
                   "too many failed pairing attempts; try again in a minute");
    return;
  }

  if (g_str_equal (path, "/v1/pair")) {
    handle_display_pair (self, msg, peer);
  } else if (g_str_equal (path, "/pair") && get) {
    handle_link (self, msg, query, peer);
  } else if (g_str_equal (path, "/pair") && method == SOUP_METHOD_POST) {
    handle_browser_pair (self, msg, peer);
  } else if (g_str_equal (path, "/pair/style.css") && get) {
    hearth_pairing_web_reply_style (msg);
  } else if (g_str_has_prefix (path, "/pair/d/") && get) {
    if (!hearth_deliveries_serve (self->deliveries, msg, path, g_get_real_time ())) {
      peer_failed (self, peer);
      hearth_pairing_web_reply_problem (msg, SOUP_STATUS_NOT_FOUND,
                                        "No such download: it may have expired. "
                                        "Ask for a new code and pair again.");
    }
  } else if (hearth_pairing_web_is_page_path (path)) {
    hearth_pairing_web_reply_problem (msg, get ? SOUP_STATUS_NOT_FOUND
                                               : SOUP_STATUS_METHOD_NOT_ALLOWED,
                                      get ? "No such page." : "Not allowed here.");
  } else {
    hearth_http_reply_not_found (msg);
  }
}

static void
on_got_headers (SoupServerMessage *msg, gpointer user_data)
{
  HearthPairing *self = user_data;

  /* Through the handshake and a request's headers: no longer pending. A
   * pairing is one request, so its connection is not kept alive (libsoup
   * 3.2.3 would keep it in CLOSE-WAIT once the display hangs up). */
  hearth_gate_passed (self->gate, soup_server_message_get_socket (msg));
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Connection", "close");
  hearth_pairing_web_secure_headers (msg);
  hearth_http_refuse_oversized (msg, MAX_BODY);
  if (soup_server_message_get_status (msg) == SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE &&
      hearth_pairing_web_is_page_path (g_uri_get_path (soup_server_message_get_uri (msg))))
    hearth_pairing_web_reply_problem (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
                                      "The form is too large.");
}

static void
on_request_started (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  HearthPairing *self = user_data;

  if (!hearth_gate_admit (self->gate, msg))
    return;
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), self);
}

static gboolean
listener_open (HearthPairing *self, GError **error)
{
  g_autofree char *host = NULL;
  g_autoptr (GInetAddress) inet = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  g_autoptr (SoupServer) soup = NULL;
  g_autoptr (GSocket) listening = NULL;
  GSList *listeners;
  guint16 port;

  if (self->soup != NULL)
    return TRUE;
  if (!hearth_parse_host_port (self->config->pairing_listen, &host, &port, error))
    return FALSE;
  if (port == 0)
    port = self->port;
  inet = g_inet_address_new_from_string (host);
  address = g_inet_socket_address_new (inet, port);
  listening = hearth_gate_listen_socket (address, error);
  if (listening == NULL) {
    g_prefix_error (error, "cannot open the pairing listener on %s: ",
                    self->config->pairing_listen);
    return FALSE;
  }
  soup = soup_server_new ("tls-certificate", self->certificate,
                          "server-header", "hearth", NULL);
  g_signal_connect (soup, "request-started", G_CALLBACK (on_request_started), self);
  soup_server_add_handler (soup, "/", handle_request, self, NULL);
  if (!soup_server_listen_socket (soup, listening, SOUP_SERVER_LISTEN_HTTPS, error)) {
    g_prefix_error (error, "cannot open the pairing listener on %s: ",
                    self->config->pairing_listen);
    return FALSE;
  }
  listeners = soup_server_get_listeners (soup);
  if (listeners != NULL) {
    g_autoptr (GSocketAddress) local = g_socket_get_local_address (listeners->data, NULL);
    if (local != NULL)
      self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
    g_slist_free (listeners);
  }
  self->soup = g_steal_pointer (&soup);
  g_message ("Pairing listener open on port %u", self->port);
  g_signal_emit (self, signals[SIGNAL_LISTENER_CHANGED], 0);
  return TRUE;
}

static void
listener_close (HearthPairing *self)
{
  if (self->soup == NULL)
    return;
  soup_server_disconnect (self->soup);
  g_clear_object (&self->soup);
  g_message ("Pairing listener closed: no pairing window is open");
  g_signal_emit (self, signals[SIGNAL_LISTENER_CHANGED], 0);
}

/* --- windows and their expiry ------------------------------------------------- */

static gboolean
on_expiry (gpointer user_data)
{
  HearthPairing *self = user_data;
  gint64 now = g_get_real_time ();

  self->expiry_source = 0;
  for (guint i = 0; i < self->windows->len;) {
    OpenWindow *w = &g_array_index (self->windows, OpenWindow, i);
    gint64 window_id = w->window_id;

    if (w->expires_at <= now) {
      window_forget (self, i);
      g_signal_emit (self, signals[SIGNAL_WINDOW_CLOSED], 0, window_id);
    } else {
      i++;
    }
  }
  schedule_expiry (self);
  return G_SOURCE_REMOVE;
}

/* Closes the listener when no window is open and no browser's files wait to
 * be downloaded, else wakes at the next expiry. */
static void
schedule_expiry (HearthPairing *self)
{
  gint64 now = g_get_real_time ();
  gint64 next = hearth_store_pairing_window_next_expiry (self->store, now);
  gint64 delivery = hearth_deliveries_expire (self->deliveries, now);

  g_clear_handle_id (&self->expiry_source, g_source_remove);
  for (guint i = 0; i < self->windows->len; i++) {
    gint64 e = g_array_index (self->windows, OpenWindow, i).expires_at;
    if (next == 0 || e < next)
      next = e;
  }
  if (delivery != 0 && (next == 0 || delivery < next))
    next = delivery;
  if (delivery == 0 && !hearth_store_pairing_window_any_open (self->store, now))
    listener_close (self);
  if (next != 0) {
    gint64 ms = MAX (0, (next - now) / 1000 + 1);
    self->expiry_source = g_timeout_add ((guint) MIN (ms, G_MAXUINT), on_expiry, self);
  }
}

char *
hearth_pairing_open_window (HearthPairing *self, const char *household_name,
                            guint ttl, gint64 *window_id, gint64 *expires_at_us,
                            char **code, GError **error)
{
  g_autoptr (HearthHousehold) household = NULL;
  g_autoptr (HearthPayload) payload = NULL;
  g_autoptr (GChecksum) sum = NULL;
  g_autoptr (GPtrArray) addresses = NULL;
  guint8 token[16];
  guint8 hash[32];
  guint8 code_random[CODE_SYMBOLS];
  gsize hash_len = sizeof hash;
  gint64 expires;
  OpenWindow w = { 0, };

  if (ttl < 1 || ttl > 86400) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "the pairing window must last 1 s to 24 h");
    return NULL;
  }
  household = hearth_store_household_get_by_name (self->store, household_name, error);
  if (household == NULL)
    return NULL;
  if (!hearth_pki_random (token, sizeof token, error) ||
      !hearth_pki_random (code_random, sizeof code_random, error))
    return NULL;
  sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, token, sizeof token);
  g_checksum_get_digest (sum, hash, &hash_len);

  expires = g_get_real_time () + (gint64) ttl * G_USEC_PER_SEC;
  w.window_id = hearth_store_pairing_window_add (self->store, household->id, hash,
                                                 expires, error);
  if (w.window_id == 0)
    return NULL;
  w.expires_at = expires;
  w.household_id = household->id;
  memcpy (w.token_hash, hash, sizeof hash);
  make_code (code_random, w.code);
  explicit_bzero (code_random, sizeof code_random);
  if (!listener_open (self, error)) {
    explicit_bzero (&w, sizeof w);
    return NULL;
  }
  g_array_append_val (self->windows, w);
  schedule_expiry (self);

  payload = hearth_payload_new ();
  payload->fingerprint = g_strdup (self->fingerprint);
  payload->token = g_malloc (33);
  for (guint i = 0; i < 16; i++)
    g_snprintf (payload->token + 2 * i, 3, "%02x", token[i]);
  payload->name = g_strdup (self->config->name);
  addresses = advertised_addresses (self, self->config->pairing_listen, self->port);
  for (guint i = 0; i < addresses->len; i++)
    g_ptr_array_add (payload->addresses, g_strdup (addresses->pdata[i]));
  /* Where the gateway still answers once this window is over: a display
   * that finds the pairing port closed can say why. */
  g_clear_pointer (&addresses, g_ptr_array_unref);
  addresses = advertised_addresses (self, self->config->listen, self->stream_port);
  for (guint i = 0; i < addresses->len; i++)
    g_ptr_array_add (payload->stream_addresses, g_strdup (addresses->pdata[i]));
  explicit_bzero (token, sizeof token);

  if (window_id)
    *window_id = w.window_id;
  if (expires_at_us)
    *expires_at_us = expires;
  if (code)
    *code = g_strdup (w.code);
  explicit_bzero (&w, sizeof w);
  return hearth_payload_format_link (payload);
}

/**
 * hearth_pairing_trust_anchor_pem:
 * @self: a #HearthPairing
 *
 * The certificate a browser's device installs to trust this gateway, served
 * as ca.crt and put in the PKCS#12 file and the Apple profile: the
 * gateway's root CA, which signs its server certificate and which displays
 * pin.
 *
 * Returns: (transfer none): PEM
 */
const char *
hearth_pairing_trust_anchor_pem (HearthPairing *self)
{
  return self->certificate_pem;
}

gboolean
hearth_pairing_start (HearthPairing *self, GError **error)
{
  if (hearth_store_pairing_window_any_open (self->store, g_get_real_time ()) &&
      !listener_open (self, error))
    return FALSE;
  schedule_expiry (self);
  return TRUE;
}

guint16
hearth_pairing_get_port (HearthPairing *self)
{
  return self->soup ? self->port : 0;
}

void
hearth_pairing_set_stream_port (HearthPairing *self, guint16 port)
{
  self->stream_port = port;
}

void
hearth_pairing_set_certificate (HearthPairing *self, GTlsCertificate *certificate)
{
  g_set_object (&self->certificate, certificate);
  if (self->soup != NULL)
    soup_server_set_tls_certificate (self->soup, certificate);
}

void
hearth_pairing_close (HearthPairing *self)
{
  g_clear_handle_id (&self->expiry_source, g_source_remove);
  hearth_deliveries_clear (self->deliveries);
  listener_close (self);
}

/* --- object --------------------------------------------------------------------- */

static void
hearth_pairing_dispose (GObject *object)
{
  HearthPairing *self = HEARTH_PAIRING (object);

  hearth_pairing_close (self);
  g_clear_object (&self->store);
  g_clear_object (&self->access);
  g_clear_object (&self->certificate);
  g_clear_pointer (&self->gate, hearth_gate_free);
  G_OBJECT_CLASS (hearth_pairing_parent_class)->dispose (object);
}

static void
hearth_pairing_finalize (GObject *object)
{
  HearthPairing *self = HEARTH_PAIRING (object);

  g_free (self->certificate_pem);
  g_free (self->fingerprint);
  while (self->windows->len > 0)
    window_forget (self, 0);
  g_array_unref (self->windows);
  hearth_deliveries_free (self->deliveries);
  hearth_peer_counter_free (self->failures);
  G_OBJECT_CLASS (hearth_pairing_parent_class)->finalize (object);
}

static void
hearth_pairing_class_init (HearthPairingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hearth_pairing_dispose;
  object_class->finalize = hearth_pairing_finalize;

  signals[SIGNAL_PAIRED] = g_signal_new ("paired", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_INT64,
      G_TYPE_INT64, G_TYPE_STRING);
  signals[SIGNAL_WINDOW_CLOSED] = g_signal_new ("window-closed",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_LISTENER_CHANGED] = g_signal_new ("listener-changed",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 0);
}

static void
hearth_pairing_init (HearthPairing *self)
{
  self->windows = g_array_new (FALSE, FALSE, sizeof (OpenWindow));
  self->deliveries = hearth_deliveries_new ();
  self->failures = hearth_peer_counter_new (MAX_FAILING_PEERS, FAILURE_WINDOW_US);
}

HearthPairing *
hearth_pairing_new (HearthStore *store, HearthAccess *access,
                    const HearthConfig *config, GTlsCertificate *certificate,
                    const char *pinned_pem)
{
  HearthPairing *self = g_object_new (HEARTH_TYPE_PAIRING, NULL);
  HearthGateLimits limits = {
    .name = "pairing port",
    .max_connections = MAX_CONNECTIONS,
    .max_pending = MAX_PENDING,
    .max_pending_per_peer = MAX_PENDING_PER_PEER,
    .deadline_us = HANDSHAKE_DEADLINE_US,
    .lifetime_us = CONNECTION_LIFETIME_US,
    /* An outsider is told why (403 not_local) by handle_pair(). */
    .refuse_outsiders = FALSE,
  };

  self->gate = hearth_gate_new (&limits, access);
  self->store = g_object_ref (store);
  self->access = g_object_ref (access);
  self->config = config;
  self->certificate = g_object_ref (certificate);
  self->certificate_pem = g_strdup (pinned_pem);
  self->fingerprint = hearth_pki_fingerprint_pem (pinned_pem, NULL);
  return self;
}
