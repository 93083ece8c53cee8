/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthCerts: the gateway's TLS identity, kept in the state directory.
 *
 * Created and loaded by HearthDaemon before any port opens. On first start
 * it makes the server key (gateway.key) and a root CA (ca.key, ca.crt):
 * CA:TRUE with path length 0, signing certificates only, with name
 * constraints that permit the host's names (every ".local" name, localhost,
 * the host name) and the [gateway] local-networks ranges, so that a device
 * that installs it trusts it for nothing else (where the device honours name
 * constraints). The CA signs the server certificate (gateway.crt) the stream
 * and pairing ports serve, chained to the CA: CA:FALSE, TLS server,
 * localhost, the host name, its ".local" name and every local address of the
 * host inside local-networks (plus the listening addresses), valid for
 * HEARTH_PKI_SERVER_DAYS.
 *
 * Displays pin the CA's fingerprint, which stays the same when the server
 * certificate is issued again: at start, when the network changes, and every
 * hour, the certificate is checked against the names and addresses the host
 * has now and against its end date, and issued again for the same key if it
 * does not fit. "changed" tells the daemon, which hands the new certificate
 * to the listeners for the connections that follow.
 *
 * A state directory of a release before the CA has gateway.key and a
 * self-signed gateway.crt: the CA is made, and a certificate it signs is
 * issued for that same key. Displays that pinned the old certificate see
 * their key again, certified by the CA, and move their pin to it
 * (hearth_pki_check_pin()).
 */
#define G_LOG_DOMAIN "hearth-certs"

#include "certs.h"
#include "error.h"
#include "netaddr.h"
#include "pki.h"
#include "store.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

/* A burst of network changes (an interface coming up) is checked once. */
#define NETWORK_SETTLE_SECONDS 2
#define CHECK_INTERVAL_SECONDS 3600

struct _HearthCerts {
  GObject parent_instance;

  const HearthConfig *config;
  char *ca_cert_pem;
  char *fingerprint;          /* of the CA */
  char *key_pem;              /* the server's key */
  char *cert_pem;             /* the server certificate served now */
  GTlsCertificate *certificate;
  char *left_out;             /* names last left out of it, for the log */
  GNetworkMonitor *monitor;
  guint settle_source;
  guint check_source;
};

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (HearthCerts, hearth_certs, G_TYPE_OBJECT)

static char *
state_path (HearthCerts *self, const char *name)
{
  return g_build_filename (self->config->state_dir, name, NULL);
}

/* The first label of the host name: what Avahi announces as NAME.local. */
static char *
mdns_host_name (const char *host_name)
{
  const char *dot = strchr (host_name, '.');
  g_autofree char *label = dot != NULL ? g_strndup (host_name, (gsize) (dot - host_name))
                                       : g_strdup (host_name);

  return g_strconcat (label, ".local", NULL);
}

static void
add_unique (GPtrArray *list, const char *item)
{
  for (guint i = 0; i < list->len; i++)
    if (g_str_equal (list->pdata[i], item))
      return;
  g_ptr_array_add (list, g_strdup (item));
}

void
hearth_certs_wanted_names (const char *host_name,
                           GPtrArray *addresses,
                           const char *ca_cert_pem,
                           GPtrArray **dns_names,
                           GPtrArray **ip_addresses,
                           GPtrArray *left_out)
{
  g_autofree char *local_name = mdns_host_name (host_name);
  const char *names[] = { "localhost", host_name, local_name };
  GPtrArray *dns = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *ips = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    if (*names[i] == '\0')
      continue;
    if (hearth_pki_ca_permits (ca_cert_pem, names[i]))
      add_unique (dns, names[i]);
    else if (left_out != NULL)
      add_unique (left_out, names[i]);
  }
  for (guint i = 0; i < addresses->len; i++) {
    if (hearth_pki_ca_permits (ca_cert_pem, addresses->pdata[i]))
      add_unique (ips, addresses->pdata[i]);
    else if (left_out != NULL)
      add_unique (left_out, addresses->pdata[i]);
  }
  g_ptr_array_add (dns, NULL);
  g_ptr_array_add (ips, NULL);
  *dns_names = dns;
  *ip_addresses = ips;
}

/* The host's local addresses now, then the explicit listening ones. */
static GPtrArray *
current_addresses (HearthCerts *self)
{
  GPtrArray *addresses = hearth_net_local_addresses (self->config->local_ranges);
  const char *listens[] = { self->config->listen, self->config->pairing_listen };

  for (guint i = 0; i < G_N_ELEMENTS (listens); i++) {
    g_autofree char *host = NULL;
    g_autoptr (GInetAddress) inet = NULL;

    if (listens[i] == NULL || !hearth_parse_host_port (listens[i], &host, NULL, NULL))
      continue;
    inet = g_inet_address_new_from_string (host);
    if (inet != NULL && !g_inet_address_get_is_any (inet))
      add_unique (addresses, host);
  }
  return addresses;
}

static gboolean
read_file (HearthCerts *self, const char *name, char **contents, GError **error)
{
  g_autofree char *path = state_path (self, name);

  if (!g_file_get_contents (path, contents, NULL, error)) {
    g_prefix_error (error, "cannot read the gateway's %s: ", name);
    return FALSE;
  }
  return TRUE;
}

static gboolean
write_file (HearthCerts *self, const char *name, const char *contents, GError **error)
{
  g_autofree char *path = state_path (self, name);

  return hearth_pki_write_private_file (path, contents, -1, error);
}

static gboolean
exists (HearthCerts *self, const char *name)
{
  g_autofree char *path = state_path (self, name);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static gboolean
load_key (HearthCerts *self, GError **error)
{
  if (!exists (self, HEARTH_STATE_KEY_FILE)) {
    g_autofree char *key_pem = hearth_pki_generate_key (error);

    if (key_pem == NULL || !write_file (self, HEARTH_STATE_KEY_FILE, key_pem, error))
      return FALSE;
    explicit_bzero (key_pem, strlen (key_pem));
    g_message ("Made the gateway's key in %s", self->config->state_dir);
  }
  return read_file (self, HEARTH_STATE_KEY_FILE, &self->key_pem, error);
}

/*
 * A root CA is made in three steps that each leave a state the next start
 * understands: its key goes to ca.key.new, its certificate to ca.crt, and
 * only then is the key renamed to ca.key. A first start killed in between
 * leaves ca.key.new: without ca.crt, no device can have seen that CA, so it
 * is thrown away and made again; with ca.crt, the rename is finished.
 */
#define CA_KEY_NEW_FILE HEARTH_STATE_CA_KEY_FILE ".new"

static gboolean
commit_ca_key (HearthCerts *self, GError **error)
{
  g_autofree char *pending = state_path (self, CA_KEY_NEW_FILE);
  g_autofree char *key = state_path (self, HEARTH_STATE_CA_KEY_FILE);

  if (g_rename (pending, key) < 0) {
    int saved = errno;

    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS, "cannot rename %s: %s", pending,
                 g_strerror (saved));
    return FALSE;
  }
  return TRUE;
}

/* What a first start killed while it made the root CA left behind. */
static gboolean
resume_ca (HearthCerts *self, GError **error)
{
  g_autofree char *pending = state_path (self, CA_KEY_NEW_FILE);

  if (!exists (self, CA_KEY_NEW_FILE))
    return TRUE;
  if (!exists (self, HEARTH_STATE_CA_KEY_FILE) && exists (self, HEARTH_STATE_CA_CERT_FILE)) {
    if (!commit_ca_key (self, error))
      return FALSE;
    g_message ("Finished making the gateway's root CA in %s, which a stopped start had "
               "begun", self->config->state_dir);
    return TRUE;
  }
  if (g_unlink (pending) < 0) {
    int saved = errno;

    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS, "cannot remove %s: %s", pending,
                 g_strerror (saved));
    return FALSE;
  }
  g_message ("Removed %s, the key of a root CA that a stopped start never finished",
             pending);
  return TRUE;
}

/* Makes the root CA if the state directory has none; a CA with a file
 * missing is an error, never replaced: every display pins it. */
static gboolean
load_ca (HearthCerts *self, GError **error)
{
  gboolean has_key, has_cert;

  if (!resume_ca (self, error))
    return FALSE;
  has_key = exists (self, HEARTH_STATE_CA_KEY_FILE);
  has_cert = exists (self, HEARTH_STATE_CA_CERT_FILE);
  if (has_key != has_cert) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS,
                 "the gateway's root CA in %s is incomplete: %s is missing (restore it "
                 "from a backup; a new CA would need every display paired again)",
                 self->config->state_dir,
                 has_key ? HEARTH_STATE_CA_CERT_FILE : HEARTH_STATE_CA_KEY_FILE);
    return FALSE;
  }
  if (!has_key) {
    const char *host_name = g_get_host_name ();
    /* A CN has at most 64 characters. */
    g_autofree char *short_name = g_utf8_substring (self->config->name, 0,
        MIN (g_utf8_strlen (self->config->name, -1), 64 - 20));
    g_autofree char *cn = g_strdup_printf ("Hearth gateway %s root", short_name);
    g_autofree char *ranges = hearth_net_ranges_to_string (self->config->local_ranges);
    g_auto (GStrv) ip_ranges = g_strsplit (ranges, ";", -1);
    g_autoptr (GPtrArray) domains = g_ptr_array_new_with_free_func (g_free);
    g_autofree char *ca_cert = NULL;
    g_autofree char *ca_key = NULL;
    gboolean ok;

    /* Every .local name, not just this host's: the host may be renamed,
     * and the CA must go on covering its names. */
    add_unique (domains, "local");
    add_unique (domains, "localhost");
    if (!g_str_has_suffix (host_name, ".local"))
      add_unique (domains, host_name);
    g_ptr_array_add (domains, NULL);

    if (!hearth_pki_make_root_ca (cn, HEARTH_PKI_CA_DAYS,
                                  (const char *const *) domains->pdata,
                                  (const char *const *) ip_ranges,
                                  &ca_cert, &ca_key, error))
      return FALSE;
    ok = write_file (self, CA_KEY_NEW_FILE, ca_key, error) &&
         write_file (self, HEARTH_STATE_CA_CERT_FILE, ca_cert, error) &&
         commit_ca_key (self, error);
    explicit_bzero (ca_key, strlen (ca_key));
    if (!ok)
      return FALSE;
    g_message ("Made the gateway's root CA in %s (%s): devices that install it "
               "trust this gateway", self->config->state_dir, HEARTH_STATE_CA_CERT_FILE);
  }
  if (!read_file (self, HEARTH_STATE_CA_CERT_FILE, &self->ca_cert_pem, error))
    return FALSE;
  self->fingerprint = hearth_pki_fingerprint_pem (self->ca_cert_pem, error);
  if (self->fingerprint == NULL) {
    g_prefix_error (error, "the gateway's %s: ", HEARTH_STATE_CA_CERT_FILE);
    return FALSE;
  }
  return TRUE;
}

/* The certificate with its key and its CA, for GIO. */
static GTlsCertificate *
chain_new (HearthCerts *self, const char *cert_pem, GError **error)
{
  g_autofree char *all = g_strconcat (cert_pem, "\n", self->ca_cert_pem, "\n",
                                      self->key_pem, NULL);
  GTlsCertificate *certificate = g_tls_certificate_new_from_pem (all, -1, error);

  explicit_bzero (all, strlen (all));
  if (certificate == NULL)
    g_prefix_error (error, "cannot load the gateway's certificate: ");
  return certificate;
}

static char *
join (GPtrArray *list)
{
  g_autoptr (GString) out = g_string_new (NULL);

  for (guint i = 0; i < list->len && list->pdata[i] != NULL; i++)
    g_string_append_printf (out, "%s%s", i > 0 ? ", " : "", (const char *) list->pdata[i]);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

gboolean
hearth_certs_refresh (HearthCerts *self, GError **error)
{
  g_autoptr (GPtrArray) addresses = current_addresses (self);
  g_autoptr (GPtrArray) left_out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) dns = NULL;
  g_autoptr (GPtrArray) ips = NULL;
  g_autoptr (GError) why = NULL;
  g_autofree char *cert_pem = NULL;
  g_autofree char *ca_key = NULL;
  g_autofree char *left_text = NULL;
  g_autofree char *names = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  gboolean first = self->certificate == NULL;
  gboolean ok;

  g_return_val_if_fail (self->ca_cert_pem != NULL && self->key_pem != NULL, FALSE);

  hearth_certs_wanted_names (g_get_host_name (), addresses, self->ca_cert_pem,
                             &dns, &ips, left_out);
  left_text = join (left_out);
  if (g_strcmp0 (left_text, self->left_out) != 0 && *left_text != '\0')
    g_warning ("The gateway's certificate cannot name %s: the root CA's name "
               "constraints do not permit it, ignoring", left_text);
  g_free (self->left_out);
  self->left_out = g_steal_pointer (&left_text);

  if (self->cert_pem == NULL && exists (self, HEARTH_STATE_CERT_FILE) &&
      !read_file (self, HEARTH_STATE_CERT_FILE, &self->cert_pem, error))
    return FALSE;
  if (self->cert_pem == NULL)
    g_set_error_literal (&why, HEARTH_ERROR, HEARTH_ERROR_INVALID, "there is none");
  else if (hearth_pki_server_cert_check (self->cert_pem, self->ca_cert_pem, self->key_pem,
                                         (const char *const *) dns->pdata,
                                         (const char *const *) ips->pdata,
                                         (gint64) HEARTH_PKI_SERVER_RENEW_DAYS * 24 * 3600,
                                         &why)) {
    if (first) {
      self->certificate = chain_new (self, self->cert_pem, error);
      return self->certificate != NULL;
    }
    return TRUE;
  } else if (!g_error_matches (why, HEARTH_ERROR, HEARTH_ERROR_INVALID)) {
    g_propagate_error (error, g_steal_pointer (&why));
    return FALSE;
  }

  if (!read_file (self, HEARTH_STATE_CA_KEY_FILE, &ca_key, error))
    return FALSE;
  cert_pem = hearth_pki_issue_server_cert (self->ca_cert_pem, ca_key, self->key_pem,
                                           self->config->name,
                                           (const char *const *) dns->pdata,
                                           (const char *const *) ips->pdata,
                                           HEARTH_PKI_SERVER_DAYS, error);
  explicit_bzero (ca_key, strlen (ca_key));
  if (cert_pem == NULL)
    return FALSE;
  certificate = chain_new (self, cert_pem, error);
  if (certificate == NULL)
    return FALSE;
  ok = write_file (self, HEARTH_STATE_CERT_FILE, cert_pem, error);
  if (!ok)
    return FALSE;

  g_ptr_array_remove_index (dns, dns->len - 1);
  g_ptr_array_extend_and_steal (dns, g_steal_pointer (&ips));
  names = join (dns);
  g_message ("Issued the gateway's certificate for %s (the previous one: %s)",
             names, why->message);
  g_free (self->cert_pem);
  self->cert_pem = g_steal_pointer (&cert_pem);
  g_set_object (&self->certificate, certificate);
  if (!first)
    g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  return TRUE;
}

gboolean
hearth_certs_load (HearthCerts *self, GError **error)
{
  g_return_val_if_fail (HEARTH_IS_CERTS (self), FALSE);

  return load_key (self, error) && load_ca (self, error) &&
         hearth_certs_refresh (self, error);
}

static void
check_now (HearthCerts *self)
{
  g_autoptr (GError) error = NULL;

  if (!hearth_certs_refresh (self, &error))
    g_warning ("Cannot renew the gateway's certificate: %s; still serving the "
               "current one", error->message);
}

static gboolean
on_settled (gpointer user_data)
{
  HearthCerts *self = user_data;

  self->settle_source = 0;
  check_now (self);
  return G_SOURCE_REMOVE;
}

static gboolean
on_check (gpointer user_data)
{
  check_now (user_data);
  return G_SOURCE_CONTINUE;
}

static void
on_network_changed (GNetworkMonitor *monitor, gboolean available, gpointer user_data)
{
  HearthCerts *self = user_data;

  g_clear_handle_id (&self->settle_source, g_source_remove);
  self->settle_source = g_timeout_add_seconds (NETWORK_SETTLE_SECONDS, on_settled, self);
}

void
hearth_certs_watch (HearthCerts *self)
{
  g_return_if_fail (HEARTH_IS_CERTS (self));

  if (self->monitor != NULL)
    return;
  self->monitor = g_object_ref (g_network_monitor_get_default ());
  g_signal_connect (self->monitor, "network-changed", G_CALLBACK (on_network_changed), self);
  self->check_source = g_timeout_add_seconds (CHECK_INTERVAL_SECONDS, on_check, self);
}

GTlsCertificate *
hearth_certs_get_certificate (HearthCerts *self)
{
  g_return_val_if_fail (HEARTH_IS_CERTS (self), NULL);
  return self->certificate;
}

const char *
hearth_certs_get_ca_pem (HearthCerts *self)
{
  g_return_val_if_fail (HEARTH_IS_CERTS (self), NULL);
  return self->ca_cert_pem;
}

const char *
hearth_certs_get_fingerprint (HearthCerts *self)
{
  g_return_val_if_fail (HEARTH_IS_CERTS (self), NULL);
  return self->fingerprint;
}

static void
hearth_certs_dispose (GObject *object)
{
  HearthCerts *self = HEARTH_CERTS (object);

  g_clear_handle_id (&self->settle_source, g_source_remove);
  g_clear_handle_id (&self->check_source, g_source_remove);
  if (self->monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->monitor, self);
  g_clear_object (&self->monitor);
  g_clear_object (&self->certificate);
  G_OBJECT_CLASS (hearth_certs_parent_class)->dispose (object);
}

static void
hearth_certs_finalize (GObject *object)
{
  HearthCerts *self = HEARTH_CERTS (object);

  if (self->key_pem != NULL)
    explicit_bzero (self->key_pem, strlen (self->key_pem));
  g_free (self->key_pem);
  g_free (self->ca_cert_pem);
  g_free (self->fingerprint);
  g_free (self->cert_pem);
  g_free (self->left_out);
  G_OBJECT_CLASS (hearth_certs_parent_class)->finalize (object);
}

static void
hearth_certs_class_init (HearthCertsClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hearth_certs_dispose;
  G_OBJECT_CLASS (klass)->finalize = hearth_certs_finalize;

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
hearth_certs_init (HearthCerts *self)
{
}

HearthCerts *
hearth_certs_new (const HearthConfig *config)
{
  HearthCerts *self = g_object_new (HEARTH_TYPE_CERTS, NULL);

  self->config = config;
  return self;
}
