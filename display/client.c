/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthDisplayClient: how hearth-display talks to a gateway.
 *
 * main.c makes one per run, either from a pairing payload (pairing listener,
 * server authentication only) or from the configuration directory written by a
 * pairing (stream port, mutual TLS). It owns one SoupSession with no TLS
 * database, so every gateway certificate fails CA validation and
 * SoupMessage::accept-certificate decides, by the SHA-256 fingerprint that
 * was pinned (check_peer()): the gateway's root CA, which must have signed
 * the certificate presented with it (or, from a gateway older than its
 * root CA, that very certificate). The answer's peer certificate is checked
 * again the same way before its body is used. A display paired with such an
 * older gateway pinned its self-signed certificate (kept as gateway.crt);
 * when the upgraded gateway presents the same key certified by its new root
 * CA, the pin moves to the CA once a request has completed over that
 * handshake (hearth_pki_check_pin() says why that is safe). The session
 * keeps its connection alive between requests. Requests try the gateway's
 * addresses in turn, starting with the one that answered last. When none
 * connects (refused, unreachable, timed out, or another certificate there),
 * the gateway is looked up by mDNS (mdns.c) and the addresses found are
 * tried the same way: their service port for a paired client, their pair=
 * port while pairing. mDNS gives addresses, never trust: the pin decides as
 * for any address. The address that answers replaces the stored ones
 * (display.ini), since every one of those had just failed.
 *
 * A pairing client that reached no pairing port asks one more question
 * before it gives up: does the gateway's stream port (the payload's s=
 * addresses, and those of a gateway found by mDNS that announces no pairing
 * port) answer a TLS handshake with the pinned certificate? Then the gateway
 * is up and has no pairing window open, so the code was used or has expired
 * (HEARTH_ERROR_TOKEN_INVALID), which is not the same as an unreachable
 * gateway. Only the pinned handshake counts as an answer, never mDNS alone.
 * A pairing port that took the connection and closed it (its limits, in a
 * flood) is up: then the stream port is not asked.
 *
 * This file also reads and writes the configuration directory (display.ini
 * and the PEM files next to it).
 */
#define G_LOG_DOMAIN "hearth-display-client"

#include "client.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

#include "error.h"
#include "hearth-config.h"
#include "mdns.h"
#include "netaddr.h"
#include "pki.h"
#include "json-text.h"

/* Largest JSON answer read into memory. */
#define MAX_JSON_BODY (4 * 1024 * 1024)
#define READ_CHUNK 65536

/* Key on a SoupMessage: the fingerprint of a certificate that was refused. */
#define REJECTED_FP_KEY "hearth-rejected-fingerprint"

struct _HearthDisplayClient {
  GObject parent_instance;

  HearthDisplayConfig *config;  /* NULL while pairing */
  char *fingerprint;            /* pinned: the gateway's root CA (or certificate) */
  char *pinned_pem;             /* nullable: the pinned certificate (gateway.crt) */
  GPtrArray *addresses;         /* of char* "host:port" */
  GTlsCertificate *certificate; /* nullable: the display's identity */
  SoupSession *session;
  guint preferred;              /* index of the address that answered last */
  char *config_dir;             /* NULL while pairing */
  guint mdns_timeout_ms;        /* 0: no mDNS lookup */
  GPtrArray *stream_addresses;  /* pairing: the payload's s=, of char* "host:port" */
};

enum { SIGNAL_GATEWAY_MOVED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (HearthDisplayClient, hearth_display_client, G_TYPE_OBJECT)

void
hearth_display_config_free (HearthDisplayConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->gateway_fingerprint);
  g_free (config->gateway_name);
  g_free (config->household);
  g_strfreev (config->stream_addresses);
  g_free (config->display_name);
  g_free (config);
}

/**
 * hearth_display_default_config_dir:
 *
 * Returns: (transfer full): $XDG_CONFIG_HOME/hearth-display.
 */
char *
hearth_display_default_config_dir (void)
{
  return g_build_filename (g_get_user_config_dir (), "hearth-display", NULL);
}

static gboolean
is_lower_hex (const char *s, gsize len)
{
  gsize i;

  if (s == NULL || strlen (s) != len)
    return FALSE;
  for (i = 0; i < len; i++) {
    if (!g_ascii_isxdigit (s[i]) || g_ascii_isupper (s[i]))
      return FALSE;
  }
  return TRUE;
}

/**
 * hearth_display_config_load:
 * @config_dir: the configuration directory
 *
 * Reads display.ini. A directory without one is HEARTH_ERROR_NOT_FOUND
 * ("not paired yet").
 *
 * Returns: (transfer full): the pairing, or NULL with @error set.
 */
HearthDisplayConfig *
hearth_display_config_load (const char *config_dir, GError **error)
{
  g_autofree char *path = g_build_filename (config_dir, HEARTH_DISPLAY_INI, NULL);
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (HearthDisplayConfig) config = g_new0 (HearthDisplayConfig, 1);
  g_autoptr (GError) local_error = NULL;
  gsize n_addresses = 0;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local_error)) {
    if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND,
                   "not paired yet: %s does not exist (run “hearth-display pair” first)",
                   path);
    } else {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "cannot read %s: %s", path, local_error->message);
    }
    return NULL;
  }

  config->gateway_fingerprint = g_key_file_get_string (kf, "gateway", "fingerprint", &local_error);
  if (config->gateway_fingerprint == NULL)
    goto bad;
  if (!is_lower_hex (config->gateway_fingerprint, 64)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "%s: [gateway] fingerprint is not 64 lowercase hex digits", path);
    return NULL;
  }
  config->gateway_name = g_key_file_get_string (kf, "gateway", "name", &local_error);
  if (config->gateway_name == NULL)
    goto bad;
  config->household = g_key_file_get_string (kf, "gateway", "household", &local_error);
  if (config->household == NULL)
    goto bad;
  config->stream_addresses = g_key_file_get_string_list (kf, "gateway", "stream-addresses",
                                                         &n_addresses, &local_error);
  if (config->stream_addresses == NULL)
    goto bad;
  if (n_addresses == 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "%s: [gateway] stream-addresses is empty", path);
    return NULL;
  }
  config->display_id = g_key_file_get_int64 (kf, "display", "id", &local_error);
  if (local_error != NULL)
    goto bad;
  config->display_name = g_key_file_get_string (kf, "display", "name", &local_error);
  if (config->display_name == NULL)
    goto bad;

  return g_steal_pointer (&config);

bad:
  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
               "%s: %s", path, local_error->message);
  return NULL;
}

static gboolean
write_public_file (const char *dir, const char *name, const char *contents, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_set_contents_full (path, contents, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT |
                                   G_FILE_SET_CONTENTS_DURABLE,
                                   0644, error);
}

/**
 * hearth_display_config_save_addresses:
 * @config_dir: a configuration directory written by a pairing
 * @stream_addresses: the gateway's addresses from now on, "host:port"
 *
 * Replaces [gateway] stream-addresses in display.ini, keeping the rest. The
 * new file replaces the old one in one rename.
 *
 * Returns: TRUE, or FALSE with @error set.
 */
gboolean
hearth_display_config_save_addresses (const char *config_dir,
                                      const char *const *stream_addresses,
                                      GError **error)
{
  g_autofree char *path = g_build_filename (config_dir, HEARTH_DISPLAY_INI, NULL);
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autofree char *ini = NULL;
  gsize ini_len = 0;

  g_return_val_if_fail (stream_addresses != NULL && stream_addresses[0] != NULL, FALSE);

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_KEEP_COMMENTS, error))
    return FALSE;
  g_key_file_set_string_list (kf, "gateway", "stream-addresses", stream_addresses,
                              g_strv_length ((char **) stream_addresses));
  ini = g_key_file_to_data (kf, &ini_len, NULL);
  return g_file_set_contents_full (path, ini, ini_len,
                                   G_FILE_SET_CONTENTS_CONSISTENT |
                                   G_FILE_SET_CONTENTS_DURABLE,
                                   0600, error);
}

/**
 * hearth_display_config_save:
 * @config_dir: the configuration directory; made (0700) if missing
 * @config: what display.ini will say
 * @key_pem: the display's private key (written 0600)
 * @cert_pem: the display's client certificate
 * @ca_cert_pem: the household CA certificate
 * @gateway_cert_pem: the gateway's certificate
 *
 * Writes a whole pairing. An older display.ini is removed first and the new
 * one is written last, so that a crash in between leaves no pairing rather
 * than a pairing whose files do not belong together.
 *
 * Returns: TRUE, or FALSE with @error set.
 */
gboolean
hearth_display_config_save (const char *config_dir,
                            const HearthDisplayConfig *config,
                            const char *key_pem,
                            const char *cert_pem,
                            const char *ca_cert_pem,
                            const char *gateway_cert_pem,
                            GError **error)
{
  g_autofree char *ini_path = g_build_filename (config_dir, HEARTH_DISPLAY_INI, NULL);
  g_autofree char *key_path = g_build_filename (config_dir, HEARTH_DISPLAY_KEY, NULL);
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autofree char *ini = NULL;
  gsize ini_len = 0;

  if (g_mkdir_with_parents (config_dir, 0700) != 0 || g_chmod (config_dir, 0700) != 0) {
    int saved_errno = errno;

    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                 "cannot create %s: %s", config_dir, g_strerror (saved_errno));
    return FALSE;
  }

  if (g_unlink (ini_path) != 0 && errno != ENOENT) {
    int saved_errno = errno;

    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                 "cannot remove the old %s: %s", ini_path, g_strerror (saved_errno));
    return FALSE;
  }

  if (!hearth_pki_write_private_file (key_path, key_pem, -1, error) ||
      !write_public_file (config_dir, HEARTH_DISPLAY_CERT, cert_pem, error) ||
      !write_public_file (config_dir, HEARTH_DISPLAY_CA_CERT, ca_cert_pem, error) ||
      !write_public_file (config_dir, HEARTH_DISPLAY_GATEWAY_CERT, gateway_cert_pem, error))
    return FALSE;

  g_key_file_set_string (kf, "gateway", "fingerprint", config->gateway_fingerprint);
  g_key_file_set_string (kf, "gateway", "name", config->gateway_name);
  g_key_file_set_string_list (kf, "gateway", "stream-addresses",
                              (const char *const *) config->stream_addresses,
                              g_strv_length (config->stream_addresses));
  g_key_file_set_string (kf, "gateway", "household", config->household);
  g_key_file_set_int64 (kf, "display", "id", config->display_id);
  g_key_file_set_string (kf, "display", "name", config->display_name);
  ini = g_key_file_to_data (kf, &ini_len, NULL);

  return g_file_set_contents_full (ini_path, ini, ini_len,
                                   G_FILE_SET_CONTENTS_CONSISTENT |
                                   G_FILE_SET_CONTENTS_DURABLE,
                                   0600, error);
}

static void
hearth_display_client_finalize (GObject *object)
{
  HearthDisplayClient *self = HEARTH_DISPLAY_CLIENT (object);

  g_clear_object (&self->session);
  g_clear_object (&self->certificate);
  g_clear_pointer (&self->addresses, g_ptr_array_unref);
  g_clear_pointer (&self->stream_addresses, g_ptr_array_unref);
  g_clear_pointer (&self->fingerprint, g_free);
  g_clear_pointer (&self->pinned_pem, g_free);
  g_clear_pointer (&self->config, hearth_display_config_free);
  g_clear_pointer (&self->config_dir, g_free);

  G_OBJECT_CLASS (hearth_display_client_parent_class)->finalize (object);
}

static void
hearth_display_client_class_init (HearthDisplayClientClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = hearth_display_client_finalize;

  signals[SIGNAL_GATEWAY_MOVED] = g_signal_new ("gateway-moved",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
hearth_display_client_init (HearthDisplayClient *self)
{
  self->addresses = g_ptr_array_new_with_free_func (g_free);
  self->stream_addresses = g_ptr_array_new_with_free_func (g_free);
  self->mdns_timeout_ms = HEARTH_DISPLAY_MDNS_TIMEOUT_S * 1000;
}

static gboolean
check_tls_backend (GError **error)
{
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ())) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS,
                 "TLS is not available: is glib-networking installed?");
    return FALSE;
  }
  return TRUE;
}

static HearthDisplayClient *
client_new (const char *fingerprint, GError **error)
{
  HearthDisplayClient *self;

  if (!check_tls_backend (error))
    return NULL;

  self = g_object_new (HEARTH_TYPE_DISPLAY_CLIENT, NULL);
  self->fingerprint = g_strdup (fingerprint);
  /*
   * No I/O timeout: a live stream may rightly pause while its camera
   * reconnects. Connecting has its own deadline (try_next_address()), JSON
   * requests a whole-request one, check its --timeout.
   */
  self->session = soup_session_new_with_options ("timeout", 0,
                                                 "user-agent", "hearth-display/" HEARTH_VERSION,
                                                 NULL);
  /* No database: no certificate is trusted by CA, accept-certificate decides. */
  soup_session_set_tls_database (self->session, NULL);
  return self;
}

/* A display dials only what a gateway on the LAN can be: an IP address
 * literal (a host name would be looked up, and the lookup leaves the
 * machine) inside the default local ranges, as the gateway checks its peers. */
static gboolean
payload_addresses_local (GPtrArray *addresses, GError **error)
{
  g_autoptr (HearthNetRanges) local = hearth_net_ranges_parse (HEARTH_NET_DEFAULT_LOCAL_RANGES,
                                                               NULL);

  for (guint i = 0; i < addresses->len; i++) {
    const char *address = g_ptr_array_index (addresses, i);
    g_autoptr (GInetAddress) inet = NULL;
    g_autofree char *host = NULL;
    guint16 port = 0;

    if (!hearth_payload_split_address (address, &host, &port, error))
      return FALSE;
    inet = g_inet_address_new_from_string (host);
    if (inet == NULL || !hearth_net_ranges_contains (local, inet)) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "the pairing code names %s, which is not a local IP address: a "
                   "display pairs only with a gateway at a loopback, private "
                   "(RFC 1918), link-local or unique-local address, and looks "
                   "up no names", address);
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * hearth_display_client_new_for_pairing:
 * @payload: the pairing payload
 *
 * A client for the pairing listener: the payload's addresses, its pinned
 * fingerprint, no client certificate.
 *
 * Returns: (transfer full): the client, or NULL with @error set
 *   (HEARTH_ERROR_INVALID when the payload names an address that is not a
 *   local IP address).
 */
HearthDisplayClient *
hearth_display_client_new_for_pairing (const HearthPayload *payload, GError **error)
{
  HearthDisplayClient *self;
  guint i;

  if (!payload_addresses_local (payload->addresses, error) ||
      !payload_addresses_local (payload->stream_addresses, error))
    return NULL;
  self = client_new (payload->fingerprint, error);
  if (self == NULL)
    return NULL;
  for (i = 0; i < payload->addresses->len; i++)
    g_ptr_array_add (self->addresses, g_strdup (g_ptr_array_index (payload->addresses, i)));
  for (i = 0; i < payload->stream_addresses->len; i++)
    g_ptr_array_add (self->stream_addresses,
                     g_strdup (g_ptr_array_index (payload->stream_addresses, i)));
  return self;
}

/**
 * hearth_display_client_new_from_config_dir:
 * @config_dir: a configuration directory written by a pairing
 *
 * A client for the stream API: the stored addresses and fingerprint, the
 * display's certificate and key. HEARTH_ERROR_NOT_FOUND if not paired yet.
 *
 * Returns: (transfer full): the client, or NULL with @error set.
 */
HearthDisplayClient *
hearth_display_client_new_from_config_dir (const char *config_dir, GError **error)
{
  g_autoptr (HearthDisplayConfig) config = NULL;
  g_autoptr (HearthDisplayClient) self = NULL;
  g_autofree char *cert_path = g_build_filename (config_dir, HEARTH_DISPLAY_CERT, NULL);
  g_autofree char *key_path = g_build_filename (config_dir, HEARTH_DISPLAY_KEY, NULL);
  g_autofree char *gateway_path = g_build_filename (config_dir, HEARTH_DISPLAY_GATEWAY_CERT,
                                                    NULL);
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;
  g_autofree char *both = NULL;
  guint i;

  config = hearth_display_config_load (config_dir, error);
  if (config == NULL)
    return NULL;

  if (!g_file_get_contents (cert_path, &cert_pem, NULL, error) ||
      !g_file_get_contents (key_path, &key_pem, NULL, error))
    return NULL;

  self = client_new (config->gateway_fingerprint, error);
  if (self == NULL)
    return NULL;
  /* Only needed to move the pin of a pairing older than the gateway's CA. */
  if (!g_file_get_contents (gateway_path, &self->pinned_pem, NULL, NULL))
    self->pinned_pem = NULL;

  both = g_strconcat (cert_pem, "\n", key_pem, NULL);
  self->certificate = g_tls_certificate_new_from_pem (both, -1, error);
  if (self->certificate == NULL) {
    g_prefix_error (error, "cannot load %s with %s: ", cert_path, key_path);
    return NULL;
  }

  for (i = 0; config->stream_addresses[i] != NULL; i++)
    g_ptr_array_add (self->addresses, g_strdup (config->stream_addresses[i]));
  self->config = g_steal_pointer (&config);
  self->config_dir = g_strdup (config_dir);

  return g_steal_pointer (&self);
}

/**
 * hearth_display_client_get_config:
 *
 * Returns: (transfer none) (nullable): the pairing, or NULL for a pairing client.
 */
const HearthDisplayConfig *
hearth_display_client_get_config (HearthDisplayClient *self)
{
  g_return_val_if_fail (HEARTH_IS_DISPLAY_CLIENT (self), NULL);

  return self->config;
}

/**
 * hearth_display_client_set_mdns_timeout:
 * @timeout_ms: how long an mDNS lookup of the gateway may take; 0: none
 *
 * Default: HEARTH_DISPLAY_MDNS_TIMEOUT_S.
 */
void
hearth_display_client_set_mdns_timeout (HearthDisplayClient *self, guint timeout_ms)
{
  g_return_if_fail (HEARTH_IS_DISPLAY_CLIENT (self));

  self->mdns_timeout_ms = timeout_ms;
}

static char *
certificate_fingerprint (GTlsCertificate *certificate)
{
  g_autoptr (GByteArray) der = NULL;

  if (certificate == NULL)
    return NULL;
  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;
  return hearth_pki_fingerprint_der (der->data, der->len);
}

/*
 * The one check of what a gateway presented, for the handshake and again for
 * its answer, pairing or paired: does the chain (@peer and its issuers)
 * match the pin? @new_fp and @new_pem are set for HEARTH_PKI_PIN_MIGRATE.
 */
static HearthPkiPin
check_peer (HearthDisplayClient *self, GTlsCertificate *peer,
            char **new_fp, char **new_pem, GError **error)
{
  g_autoptr (GPtrArray) chain = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  for (GTlsCertificate *c = peer; c != NULL; c = g_tls_certificate_get_issuer (c)) {
    g_autoptr (GByteArray) der = NULL;

    g_object_get (c, "certificate", &der, NULL);
    if (der == NULL)
      break;
    g_ptr_array_add (chain, g_byte_array_free_to_bytes (g_steal_pointer (&der)));
  }
  return hearth_pki_check_pin (chain, self->fingerprint, self->pinned_pem,
                               new_fp, new_pem, error);
}

static gboolean
on_accept_certificate (SoupMessage *msg,
                       GTlsCertificate *certificate,
                       GTlsCertificateFlags errors,
                       gpointer user_data)
{
  HearthDisplayClient *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *fp = NULL;

  /* CA validation always fails (no database); the pin is the only trust. */
  if (check_peer (self, certificate, NULL, NULL, &error) != HEARTH_PKI_PIN_REFUSED) {
    g_debug ("new connection to %s: gateway certificate matches the pin",
             g_uri_get_host (soup_message_get_uri (msg)));
    return TRUE;
  }

  g_debug ("gateway certificate refused: %s", error->message);
  fp = certificate_fingerprint (certificate);
  g_object_set_data_full (G_OBJECT (msg), REJECTED_FP_KEY,
                          g_strdup (fp != NULL ? fp : "none"), g_free);
  return FALSE;
}

/*
 * A pairing older than the gateway's root CA, whose key the gateway has just
 * proved it holds with a certificate of that CA: from now on the CA is
 * pinned. display.ini first: if only it is written, the CA it names is
 * matched directly; gateway.crt follows for the record.
 */
static void
migrate_pin (HearthDisplayClient *self, const char *new_fp, const char *new_pem)
{
  g_autofree char *ini_path = NULL;
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *ini = NULL;
  gsize ini_len = 0;

  g_message ("The gateway now has a root CA, certifying the key this display "
             "pinned; pinning the CA (%s) from now on", new_fp);
  g_free (self->fingerprint);
  self->fingerprint = g_strdup (new_fp);
  g_free (self->pinned_pem);
  self->pinned_pem = g_strdup (new_pem);
  if (self->config == NULL)
    return;
  g_free (self->config->gateway_fingerprint);
  self->config->gateway_fingerprint = g_strdup (new_fp);

  ini_path = g_build_filename (self->config_dir, HEARTH_DISPLAY_INI, NULL);
  if (!g_key_file_load_from_file (kf, ini_path, G_KEY_FILE_KEEP_COMMENTS, &error))
    goto fail;
  g_key_file_set_string (kf, "gateway", "fingerprint", new_fp);
  ini = g_key_file_to_data (kf, &ini_len, NULL);
  if (!g_file_set_contents_full (ini_path, ini, ini_len,
                                 G_FILE_SET_CONTENTS_CONSISTENT |
                                 G_FILE_SET_CONTENTS_DURABLE, 0600, &error) ||
      !write_public_file (self->config_dir, HEARTH_DISPLAY_GATEWAY_CERT, new_pem, &error))
    goto fail;
  return;

fail:
  g_warning ("Cannot store the gateway's new pin in %s: %s; it is moved again "
             "on the next run", self->config_dir, error->message);
}

static gboolean
on_request_certificate (SoupMessage *msg,
                        GTlsClientConnection *connection,
                        gpointer user_data)
{
  HearthDisplayClient *self = user_data;

  /* Normally the certificate was set before sending; answer anyway. */
  soup_message_set_tls_client_certificate (msg, self->certificate);
  return TRUE;
}

/**
 * hearth_display_json_get_number:
 *
 * Returns: TRUE and sets @value if the member is a number (integer or not).
 */
gboolean
hearth_display_json_get_number (JsonObject *object, const char *name, double *value)
{
  JsonNode *node = json_object_get_member (object, name);
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    *value = (double) json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE)
    *value = json_node_get_double (node);
  else
    return FALSE;
  return TRUE;
}

static HearthError
error_code_from_gateway (const char *error_name, guint status)
{
  static const struct {
    const char *name;
    HearthError code;
  } codes[] = {
    { "not_found", HEARTH_ERROR_NOT_FOUND },
    { "bad_request", HEARTH_ERROR_INVALID },
    { "token_invalid", HEARTH_ERROR_TOKEN_INVALID },
    { "token_expired", HEARTH_ERROR_TOKEN_EXPIRED },
    { "token_spent", HEARTH_ERROR_TOKEN_SPENT },
    { "rate_limited", HEARTH_ERROR_RATE_LIMITED },
    { "not_local", HEARTH_ERROR_NOT_LOCAL },
    { "denied", HEARTH_ERROR_DENIED },
    { "forbidden", HEARTH_ERROR_DENIED },
    { "unavailable", HEARTH_ERROR_UNAVAILABLE },
  };
  guint i;

  for (i = 0; error_name != NULL && i < G_N_ELEMENTS (codes); i++) {
    if (g_str_equal (error_name, codes[i].name))
      return codes[i].code;
  }
  if (status == SOUP_STATUS_NOT_FOUND)
    return HEARTH_ERROR_NOT_FOUND;
  if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
    return HEARTH_ERROR_DENIED;
  return HEARTH_ERROR_FAILED;
}

/* The GError for a non-2xx answer: the gateway's own message when it sent one. */
static GError *
error_from_answer (SoupMessage *msg, GBytes *body)
{
  guint status = soup_message_get_status (msg);
  const char *reason = soup_message_get_reason_phrase (msg);
  g_autoptr (JsonParser) parser = json_parser_new ();
  const char *error_name = NULL;
  const char *message = NULL;

  if (reason == NULL || *reason == '\0')
    reason = soup_status_get_phrase (status);

  if (body != NULL && g_bytes_get_size (body) > 0 &&
      json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                  g_bytes_get_size (body), NULL)) {
    JsonNode *root = json_parser_get_root (parser);

    if (root != NULL && JSON_NODE_HOLDS_OBJECT (root)) {
      JsonObject *obj = json_node_get_object (root);

      error_name = hearth_json_get_string (obj, "error");
      message = hearth_json_get_string (obj, "message");
    }
  }

  /* The stream port's one answer to a certificate it does not accept: said
   * as what it means for this display, not as the gateway's words for a
   * device that never paired. */
  if (g_strcmp0 (error_name, "not_paired") == 0)
    return g_error_new (HEARTH_ERROR, HEARTH_ERROR_DENIED,
                        "this display was removed from the household or is "
                        "not paired; pair it again (%u %s)", status, reason);
  if (message != NULL && g_utf8_validate (message, -1, NULL))
    return g_error_new (HEARTH_ERROR, error_code_from_gateway (error_name, status),
                        "%s (%u %s)", message, status, reason);
  return g_error_new (HEARTH_ERROR, error_code_from_gateway (error_name, status),
                      "the gateway answered %u %s", status, reason);
}

/* One request in flight: the address being tried and what failed before. */
typedef struct {
  char *method;
  char *path;
  GBytes *body;       /* nullable: JSON to send */
  guint tried;        /* known addresses tried so far */
  guint index;        /* known address being tried */
  char *address;      /* the address being tried */
  GString *failures;  /* "addr: reason; …" */
  gboolean rejected;  /* a certificate was refused somewhere */
  gboolean closed;    /* a port took the connection and closed it unanswered */
  SoupMessage *msg;
  GCancellable *attempt;  /* this address's attempt */
  GSource *connect_timer; /* until the request headers are written */
  gboolean tcp_connected;  /* the attempt's TCP connection is up */
  gboolean connect_timed_out;
  GInputStream *stream;
  GByteArray *error_body;

  /* After the known addresses: the gateway looked up by mDNS. */
  gboolean mdns_done;
  GPtrArray *candidates;  /* of char* "host:port", found by mDNS */
  guint next_candidate;
  gboolean from_mdns;     /* the address being tried is a candidate */
  char *mdns_note;        /* nullable: why mDNS gave nothing to try */

  /* Pairing, when no pairing port answered: the stream port. */
  GPtrArray *probes;      /* of char* "host:port"; NULL until needed */
  gboolean probes_listed; /* the payload's are in */
  guint next_probe;
  gboolean probe_pinned;  /* the probe in flight met the pinned certificate */
} SendData;

static void
stop_connect_timer (SendData *data)
{
  if (data->connect_timer == NULL)
    return;
  g_source_destroy (data->connect_timer);
  g_clear_pointer (&data->connect_timer, g_source_unref);
}

static gboolean
on_connect_timeout (gpointer user_data)
{
  SendData *data = user_data;

  data->connect_timed_out = TRUE;
  g_cancellable_cancel (data->attempt);
  g_clear_pointer (&data->connect_timer, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
start_connect_timer (SendData *data, guint seconds)
{
  stop_connect_timer (data);
  data->connect_timer = g_timeout_source_new_seconds (seconds);
  g_source_set_callback (data->connect_timer, on_connect_timeout, data, NULL);
  g_source_attach (data->connect_timer, g_main_context_get_thread_default ());
}

static void
on_network_event (SoupMessage *msg, GSocketClientEvent event, GIOStream *connection,
                  gpointer user_data)
{
  SendData *data = user_data;

  /* The address answered: a slow TLS handshake (a loaded gateway, a
   * sanitizer build) gets longer than a silent address. */
  if (event == G_SOCKET_CLIENT_CONNECTED && data->connect_timer != NULL) {
    data->tcp_connected = TRUE;
    start_connect_timer (data, HEARTH_DISPLAY_HANDSHAKE_TIMEOUT_S);
  }
}

static void
on_wrote_headers (SoupMessage *msg, gpointer user_data)
{
  /* Connected, TLS included: from here on only the caller's deadlines count. */
  stop_connect_timer (user_data);
}

/* Forwards the caller's cancellation to one attempt, for as long as its message lives. */
typedef struct {
  GCancellable *outer;
  gulong handler;
  GCancellable *attempt;
} CancelLink;

static void
cancel_link_free (gpointer user_data)
{
  CancelLink *link = user_data;

  if (link->outer != NULL) {
    g_cancellable_disconnect (link->outer, link->handler);
    g_object_unref (link->outer);
  }
  g_object_unref (link->attempt);
  g_free (link);
}

static void
on_outer_cancelled (GCancellable *outer, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static GCancellable *
link_attempt (SoupMessage *msg, GCancellable *outer)
{
  CancelLink *link = g_new0 (CancelLink, 1);

  link->attempt = g_cancellable_new ();
  if (outer != NULL) {
    link->outer = g_object_ref (outer);
    link->handler = g_cancellable_connect (outer, G_CALLBACK (on_outer_cancelled),
                                           link->attempt, NULL);
  }
  g_object_set_data_full (G_OBJECT (msg), "hearth-cancel-link", link, cancel_link_free);
  return g_object_ref (link->attempt);
}

static void
end_attempt (SendData *data)
{
  stop_connect_timer (data);
  if (data->msg != NULL)
    g_signal_handlers_disconnect_by_data (data->msg, data);
  g_clear_object (&data->attempt);
}

static void
send_data_free (SendData *data)
{
  end_attempt (data);
  g_free (data->method);
  g_free (data->path);
  g_free (data->address);
  g_free (data->mdns_note);
  g_clear_pointer (&data->candidates, g_ptr_array_unref);
  g_clear_pointer (&data->probes, g_ptr_array_unref);
  g_clear_pointer (&data->body, g_bytes_unref);
  g_string_free (data->failures, TRUE);
  g_clear_object (&data->msg);
  g_clear_object (&data->stream);
  g_clear_pointer (&data->error_body, g_byte_array_unref);
  g_free (data);
}

static void try_next_address (GTask *task);

static void
add_failure (SendData *data, const char *address, const char *reason)
{
  if (data->failures->len > 0)
    g_string_append (data->failures, "; ");
  g_string_append_printf (data->failures, "%s: %s", address, reason);
}

static char *
describe_send_error (SendData *data, const char *expected_fp, GError *error)
{
  const char *rejected_fp = g_object_get_data (G_OBJECT (data->msg), REJECTED_FP_KEY);

  if (rejected_fp != NULL) {
    data->rejected = TRUE;
    return g_strdup_printf ("certificate rejected: the gateway's certificate has "
                            "fingerprint %s, expected %s", rejected_fp, expected_fp);
  }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    return g_strdup ("connection refused");
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return g_strdup ("timed out");
  /* A certificate the gateway does not accept is answered 403 not_paired;
   * a connection closed unanswered, before the TLS handshake is done (which
   * GLib reports as NOT_TLS) or after, is one the gateway's limits refused. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
      g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS)) {
    data->closed = TRUE;
    return g_strdup_printf ("the gateway closed the connection (too many "
                            "connections or pairing attempts; try again "
                            "later): %s", error->message);
  }
  if (g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED))
    return g_strdup_printf ("the gateway asked for a certificate this display "
                            "does not have: %s", error->message);
  if (error->domain == G_TLS_ERROR)
    return g_strdup_printf ("TLS error: %s", error->message);
  return g_strdup (error->message);
}

/* The gateway answered, pinned, at @address found by mDNS: from now on that
 * is its address, in this process and, for a paired display, on disk. */
static void
adopt_found_address (HearthDisplayClient *self, const char *address)
{
  const char *addresses[] = { address, NULL };
  g_autoptr (GError) error = NULL;

  g_ptr_array_set_size (self->addresses, 0);
  g_ptr_array_add (self->addresses, g_strdup (address));
  self->preferred = 0;

  if (self->config != NULL) {
    g_strfreev (self->config->stream_addresses);
    self->config->stream_addresses = g_strdupv ((char **) addresses);
    hearth_display_config_save_addresses (self->config_dir, addresses, &error);
  }
  g_signal_emit (self, signals[SIGNAL_GATEWAY_MOVED], 0, address,
                 error != NULL ? error->message : NULL);
}

static void
on_error_body_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  SendData *data = g_task_get_task_data (task);
  g_autoptr (GBytes) chunk = NULL;
  g_autoptr (GBytes) body = NULL;

  chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, NULL);
  if (chunk != NULL && g_bytes_get_size (chunk) > 0 && data->error_body->len < MAX_JSON_BODY) {
    g_byte_array_append (data->error_body, g_bytes_get_data (chunk, NULL),
                         g_bytes_get_size (chunk));
    GCancellable *cancellable = g_task_get_cancellable (task);

    g_input_stream_read_bytes_async (data->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                     cancellable, on_error_body_read,
                                     g_steal_pointer (&task));
    return;
  }

  body = g_byte_array_free_to_bytes (g_steal_pointer (&data->error_body));
  g_task_return_error (task, error_from_answer (data->msg, body));
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  HearthDisplayClient *self = g_task_get_source_object (task);
  SendData *data = g_task_get_task_data (task);
  const char *address = data->address;
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) stream = NULL;
  g_autofree char *peer_fp = NULL;
  g_autofree char *new_fp = NULL;
  g_autofree char *new_pem = NULL;
  g_autoptr (GError) pin_error = NULL;
  GTlsCertificate *peer;
  HearthPkiPin pin;
  GCancellable *cancellable;
  guint status;

  stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  end_attempt (data);
  if (stream == NULL) {
    g_autofree char *reason = NULL;

    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !data->connect_timed_out) {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
    if (data->connect_timed_out)
      reason = data->tcp_connected
                   ? g_strdup_printf ("timed out: no TLS handshake within %d s",
                                      HEARTH_DISPLAY_HANDSHAKE_TIMEOUT_S)
                   : g_strdup_printf ("timed out: no connection after %d s",
                                      HEARTH_DISPLAY_CONNECT_TIMEOUT_S);
    else
      reason = describe_send_error (data, self->fingerprint, error);
    g_debug ("%s %s at %s: %s", data->method, data->path, address, reason);
    if (data->from_mdns) {
      g_autofree char *labelled = g_strconcat (address, " (found by mDNS)", NULL);

      add_failure (data, labelled, reason);
    } else {
      add_failure (data, address, reason);
    }
    g_clear_object (&data->msg);
    try_next_address (g_steal_pointer (&task));
    return;
  }

  /* The handshake was pinned; check that this answer came over it. */
  peer = soup_message_get_tls_peer_certificate (data->msg);
  pin = peer != NULL ? check_peer (self, peer, &new_fp, &new_pem, &pin_error)
                     : HEARTH_PKI_PIN_REFUSED;
  if (pin == HEARTH_PKI_PIN_REFUSED) {
    peer_fp = certificate_fingerprint (peer);
    g_task_return_new_error (task, HEARTH_ERROR, HEARTH_ERROR_TLS,
                             "%s: certificate rejected: the answer came with certificate %s, "
                             "expected %s", address, peer_fp ? peer_fp : "none",
                             self->fingerprint);
    return;
  }
  if (pin == HEARTH_PKI_PIN_MIGRATE)
    migrate_pin (self, new_fp, new_pem);

  if (data->from_mdns)
    adopt_found_address (self, address);
  else
    self->preferred = data->index;
  data->stream = g_steal_pointer (&stream);
  status = soup_message_get_status (data->msg);
  if (SOUP_STATUS_IS_SUCCESSFUL (status)) {
    g_task_return_pointer (task, g_steal_pointer (&data->stream), g_object_unref);
    return;
  }

  data->error_body = g_byte_array_new ();
  cancellable = g_task_get_cancellable (task);
  g_input_stream_read_bytes_async (data->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   cancellable, on_error_body_read,
                                   g_steal_pointer (&task));
}

/* Starts one attempt at @address; FALSE (failure noted) if it cannot be made. */
static gboolean
start_attempt (GTask *task, const char *address, gboolean from_mdns)
{
  HearthDisplayClient *self = g_task_get_source_object (task);
  SendData *data = g_task_get_task_data (task);
  g_autofree char *host = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GUri) uri = NULL;
  guint16 port = 0;

  g_free (data->address);
  data->address = g_strdup (address);
  data->from_mdns = from_mdns;
  if (!hearth_payload_split_address (address, &host, &port, &error)) {
    add_failure (data, address, error->message);
    return FALSE;
  }

  uri = g_uri_build (G_URI_FLAGS_NONE, "https", NULL, host, port, data->path, NULL, NULL);
  data->msg = soup_message_new_from_uri (data->method, uri);
  if (data->msg == NULL) {
    add_failure (data, address, "cannot make a request URI");
    return FALSE;
  }
  if (data->body != NULL)
    soup_message_set_request_body_from_bytes (data->msg, "application/json", data->body);
  if (self->certificate != NULL)
    soup_message_set_tls_client_certificate (data->msg, self->certificate);
  g_signal_connect_object (data->msg, "accept-certificate",
                           G_CALLBACK (on_accept_certificate), self, 0);
  if (self->certificate != NULL)
    g_signal_connect_object (data->msg, "request-certificate",
                             G_CALLBACK (on_request_certificate), self, 0);

  /* Each address gets a few seconds to connect before the next is tried. */
  data->attempt = link_attempt (data->msg, g_task_get_cancellable (task));
  data->connect_timed_out = FALSE;
  data->tcp_connected = FALSE;
  start_connect_timer (data, HEARTH_DISPLAY_CONNECT_TIMEOUT_S);
  g_signal_connect (data->msg, "network-event", G_CALLBACK (on_network_event), data);
  g_signal_connect (data->msg, "wrote-headers", G_CALLBACK (on_wrote_headers), data);

  soup_session_send_async (self->session, data->msg, G_PRIORITY_DEFAULT,
                           data->attempt, on_sent, g_object_ref (task));
  return TRUE;
}

static void
add_probe (SendData *data, const char *host, guint16 port)
{
  g_autofree char *host_port = hearth_format_host_port (host, port);

  if (data->probes == NULL)
    data->probes = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < data->probes->len; i++) {
    if (g_str_equal (data->probes->pdata[i], host_port))
      return;
  }
  g_ptr_array_add (data->probes, g_steal_pointer (&host_port));
}

static gboolean
was_tried (HearthDisplayClient *self, SendData *data, const char *address)
{
  for (guint i = 0; i < self->addresses->len; i++) {
    if (g_str_equal (self->addresses->pdata[i], address))
      return TRUE;
  }
  for (guint i = 0; data->candidates != NULL && i < data->candidates->len; i++) {
    if (g_str_equal (data->candidates->pdata[i], address))
      return TRUE;
  }
  return FALSE;
}

static void
on_mdns_found (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  HearthDisplayClient *self = g_task_get_source_object (task);
  SendData *data = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) services = NULL;
  g_autofree char *ignored = NULL;
  guint no_pair_port = 0;

  services = hearth_display_mdns_find_finish (result, &ignored, &error);
  if (services == NULL) {
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
    data->mdns_note = g_strdup_printf ("mDNS lookup was not possible: %s", error->message);
    try_next_address (g_steal_pointer (&task));
    return;
  }

  data->candidates = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < services->len; i++) {
    const HearthGatewayService *service = services->pdata[i];
    guint16 port = self->config != NULL ? service->port : service->pair_port;
    g_autofree char *host_port = NULL;

    if (port == 0) {
      /* Up, by its announcement, but with no pairing window: to be
       * confirmed by the pin, if nothing else answers. */
      no_pair_port++;
      add_probe (data, service->address, service->port);
      continue;
    }
    host_port = hearth_format_host_port (service->address, port);
    if (was_tried (self, data, host_port))
      continue;
    g_debug ("found by mDNS: “%s” at %s", service->name, host_port);
    g_ptr_array_add (data->candidates, g_steal_pointer (&host_port));
  }

  if (data->candidates->len == 0) {
    g_autoptr (GString) note = g_string_new (NULL);

    if (services->len == 0)
      g_string_append_printf (note, "mDNS: no gateway with this certificate fingerprint "
                                    "answered within %g s", self->mdns_timeout_ms / 1000.0);
    else if (no_pair_port > 0)
      g_string_append (note, "mDNS: the gateway announces no pairing port (is a pairing "
                             "window open?)");
    else
      g_string_append (note, "mDNS: the gateway announces only the addresses above");
    if (ignored != NULL)
      g_string_append_printf (note, " (ignored: %s)", ignored);
    data->mdns_note = g_string_free (g_steal_pointer (&note), FALSE);
  }
  try_next_address (g_steal_pointer (&task));
}

static gboolean
on_probe_accept_certificate (GTlsConnection *connection,
                             GTlsCertificate *certificate,
                             GTlsCertificateFlags errors,
                             gpointer user_data)
{
  GTask *task = user_data;
  HearthDisplayClient *self = g_task_get_source_object (task);
  SendData *data = g_task_get_task_data (task);

  /* As for requests: the pin is the only trust. */
  data->probe_pinned = check_peer (self, certificate, NULL, NULL, NULL) != HEARTH_PKI_PIN_REFUSED;
  return data->probe_pinned;
}

static void
on_probe_event (GSocketClient *client, GSocketClientEvent event,
                GSocketConnectable *connectable, GIOStream *connection,
                gpointer user_data)
{
  if (event != G_SOCKET_CLIENT_TLS_HANDSHAKING)
    return;
  /* No CA trust: accept-certificate decides. */
  g_tls_connection_set_database (G_TLS_CONNECTION (connection), NULL);
  g_signal_connect (connection, "accept-certificate",
                    G_CALLBACK (on_probe_accept_certificate), user_data);
}

static void
on_probe_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  SendData *data = g_task_get_task_data (task);
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GError) error = NULL;
  const char *address = data->probes->pdata[data->next_probe - 1];

  connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, &error);
  g_signal_handlers_disconnect_by_data (source, task);
  if (connection != NULL)
    g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_task_return_error (task, g_steal_pointer (&error));
    return;
  }

  /* Through the pinned handshake (a stream port without a client
   * certificate may refuse right after it): the gateway itself. */
  if (data->probe_pinned) {
    g_task_return_new_error (task, HEARTH_ERROR, HEARTH_ERROR_TOKEN_INVALID,
                             "its pairing port does not answer (%s), but the gateway "
                             "does, with its pinned certificate, at %s: no pairing "
                             "window is open",
                             data->failures->str, address);
    return;
  }
  {
    g_autofree char *labelled = g_strconcat (address, " (stream port)", NULL);

    add_failure (data, labelled,
                 error == NULL ? "another certificate" :
                 g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ?
                 "connection refused" : error->message);
  }
  try_next_address (g_steal_pointer (&task));
}

/* Pairing: whether the gateway's stream port answers, pinned. */
static void
start_probe (GTask *task, const char *address)
{
  SendData *data = g_task_get_task_data (task);
  g_autoptr (GSocketClient) client = g_socket_client_new ();

  data->probe_pinned = FALSE;
  g_socket_client_set_tls (client, TRUE);
  g_socket_client_set_timeout (client, HEARTH_DISPLAY_HANDSHAKE_TIMEOUT_S);
  g_signal_connect (client, "event", G_CALLBACK (on_probe_event), task);
  g_debug ("pairing port closed; is the stream port at %s the gateway?", address);
  g_socket_client_connect_to_host_async (client, address, 0, g_task_get_cancellable (task),
                                         on_probe_done, task);
}

static void
try_next_address (GTask *task_in)
{
  g_autoptr (GTask) task = task_in;
  HearthDisplayClient *self = g_task_get_source_object (task);
  SendData *data = g_task_get_task_data (task);

  while (data->tried < self->addresses->len) {
    data->index = (self->preferred + data->tried) % self->addresses->len;
    data->tried++;
    if (start_attempt (task, g_ptr_array_index (self->addresses, data->index), FALSE))
      return;
  }

  if (!data->mdns_done && self->mdns_timeout_ms > 0) {
    GCancellable *cancellable = g_task_get_cancellable (task);

    data->mdns_done = TRUE;
    hearth_display_mdns_find_async (self->fingerprint, self->mdns_timeout_ms, cancellable,
                                    on_mdns_found, g_steal_pointer (&task));
    return;
  }

  while (data->candidates != NULL && data->next_candidate < data->candidates->len) {
    if (start_attempt (task, data->candidates->pdata[data->next_candidate++], TRUE))
      return;
  }

  if (self->config == NULL && !data->probes_listed) {
    data->probes_listed = TRUE;
    for (guint i = 0; i < self->stream_addresses->len; i++) {
      g_autofree char *host = NULL;
      guint16 port = 0;

      if (hearth_payload_split_address (self->stream_addresses->pdata[i], &host, &port, NULL))
        add_probe (data, host, port);
    }
  }
  /* A pairing port that closed the connection is up, with a window open:
   * asking the stream port would only say, wrongly, that none is. */
  if (!data->closed && data->probes != NULL && data->next_probe < data->probes->len) {
    start_probe (g_steal_pointer (&task), data->probes->pdata[data->next_probe++]);
    return;
  }

  g_task_return_new_error (task, HEARTH_ERROR,
                           data->rejected ? HEARTH_ERROR_TLS : HEARTH_ERROR_FAILED,
                           "could not reach the gateway: %s%s%s",
                           data->failures->len > 0 ? data->failures->str : "no address",
                           data->mdns_note != NULL ? "\n" : "",
                           data->mdns_note != NULL ? data->mdns_note : "");
}

/**
 * hearth_display_client_send_async:
 * @self: a client
 * @method: "GET", "POST"…
 * @path: the request path, e.g. "/v1/cameras"
 * @body: (nullable): JSON to send
 * @cancellable: (nullable): cancels the request, including its body
 *
 * Sends a request to the first address that answers. Connection failures and
 * refused certificates move on to the next address; an answer does not.
 */
void
hearth_display_client_send_async (HearthDisplayClient *self,
                                  const char *method,
                                  const char *path,
                                  JsonNode *body,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  SendData *data;

  g_return_if_fail (HEARTH_IS_DISPLAY_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, hearth_display_client_send_async);
  data = g_new0 (SendData, 1);
  data->method = g_strdup (method);
  data->path = g_strdup (path);
  data->failures = g_string_new (NULL);
  if (body != NULL) {
    g_autofree char *text = json_to_string (body, FALSE);
    gsize len = strlen (text);

    data->body = g_bytes_new_take (g_steal_pointer (&text), len);
  }
  g_task_set_task_data (task, data, (GDestroyNotify) send_data_free);

  try_next_address (g_steal_pointer (&task));
}

/**
 * hearth_display_client_send_finish:
 *
 * Returns: (transfer full): the body of a 2xx answer, or NULL with @error set
 *   (HEARTH_ERROR with the gateway's message for any other status).
 */
GInputStream *
hearth_display_client_send_finish (HearthDisplayClient *self,
                                   GAsyncResult *result,
                                   GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* State of a blocking JSON request, driven by the thread-default main context. */
typedef struct {
  GCancellable *cancellable;
  GInputStream *stream;
  GByteArray *body;
  GError *error;
  gboolean done;
  gboolean eof;
  gboolean timed_out;
} JsonRequest;

static gboolean
on_json_deadline (gpointer user_data)
{
  JsonRequest *req = user_data;

  req->timed_out = TRUE;
  g_cancellable_cancel (req->cancellable);
  return G_SOURCE_CONTINUE;
}

static void
on_json_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  JsonRequest *req = user_data;
  g_autoptr (GBytes) chunk = NULL;

  chunk = g_input_stream_read_bytes_finish (req->stream, result, &req->error);
  if (chunk == NULL || g_bytes_get_size (chunk) == 0) {
    req->eof = chunk != NULL;
    req->done = TRUE;
    return;
  }
  if (req->body->len + g_bytes_get_size (chunk) > MAX_JSON_BODY) {
    req->error = g_error_new (HEARTH_ERROR, HEARTH_ERROR_LIMIT,
                              "the gateway's answer is larger than %d bytes", MAX_JSON_BODY);
    req->done = TRUE;
    return;
  }
  g_byte_array_append (req->body, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
  g_input_stream_read_bytes_async (req->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   req->cancellable, on_json_read, req);
}

static void
on_json_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  JsonRequest *req = user_data;

  req->stream = hearth_display_client_send_finish (HEARTH_DISPLAY_CLIENT (source),
                                                   result, &req->error);
  if (req->stream == NULL) {
    req->done = TRUE;
    return;
  }
  g_input_stream_read_bytes_async (req->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   req->cancellable, on_json_read, req);
}

/**
 * hearth_display_client_request_json:
 * @self: a client
 * @method: "GET", "POST"…
 * @path: the request path
 * @body: (nullable): JSON to send
 * @raw_body: (out) (optional) (transfer full): the answer's bytes as received
 *
 * Sends a request and waits for its whole JSON answer, at most
 * HEARTH_DISPLAY_REQUEST_TIMEOUT_S, iterating the thread-default main context
 * meanwhile.
 *
 * Returns: (transfer full): the parsed answer, or NULL with @error set.
 */
JsonNode *
hearth_display_client_request_json (HearthDisplayClient *self,
                                    const char *method,
                                    const char *path,
                                    JsonNode *body,
                                    GBytes **raw_body,
                                    GError **error)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  JsonRequest req = { .cancellable = cancellable };
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GBytes) bytes = NULL;
  GMainContext *context = g_main_context_get_thread_default ();
  g_autoptr (GError) parse_error = NULL;
  GSource *deadline;

  g_return_val_if_fail (HEARTH_IS_DISPLAY_CLIENT (self), NULL);

  deadline = g_timeout_source_new_seconds (HEARTH_DISPLAY_REQUEST_TIMEOUT_S);
  g_source_set_callback (deadline, on_json_deadline, &req, NULL);
  g_source_attach (deadline, context);

  req.body = g_byte_array_new ();
  hearth_display_client_send_async (self, method, path, body, cancellable,
                                    on_json_sent, &req);
  while (!req.done)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (deadline);
  g_source_unref (deadline);

  bytes = g_byte_array_free_to_bytes (req.body);
  /* A body read to its end leaves the connection reusable; any other is dropped. */
  if (!req.eof)
    g_cancellable_cancel (cancellable);
  if (req.stream != NULL)
    g_input_stream_close (req.stream, cancellable, NULL);
  g_clear_object (&req.stream);
  if (req.timed_out) {
    g_clear_error (&req.error);
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "timed out: no whole answer to %s %s within %d s",
                 method, path, HEARTH_DISPLAY_REQUEST_TIMEOUT_S);
    return NULL;
  }
  if (req.error != NULL) {
    g_propagate_error (error, req.error);
    return NULL;
  }

  /* An empty answer (a connection cut after its headers) has no data at
   * all, which json-glib must not be given. */
  if (g_bytes_get_size (bytes) == 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "the gateway's answer to %s %s is empty", method, path);
    return NULL;
  }
  if (!json_parser_load_from_data (parser, g_bytes_get_data (bytes, NULL),
                                   g_bytes_get_size (bytes), &parse_error)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "the gateway's answer to %s %s is not JSON: %s",
                 method, path, parse_error->message);
    return NULL;
  }
  if (json_parser_get_root (parser) == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "the gateway's answer to %s %s holds no JSON", method, path);
    return NULL;
  }
  if (raw_body != NULL)
    *raw_body = g_steal_pointer (&bytes);
  return json_parser_steal_root (parser);
}
