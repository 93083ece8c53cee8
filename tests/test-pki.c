/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for gateway/pki/pki.c: keys, the gateway's root CA and the server
 * certificate it signs (renewal, the display's pin check), household CAs and
 * the client certificates they issue. Every certificate is also read
 * by an independent implementation (certtool from gnutls-bin, GIO's
 * GTlsCertificate) and used in a real mutual-TLS handshake over a socket pair.
 */
#define G_LOG_DOMAIN "hearth-test-pki"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "error.h"
#include "fixture.h"
#include "pki.h"

#define HANDSHAKE_TIMEOUT_SECONDS 30

static char *
tmp_path (HearthTestFixture *fixture, const char *name)
{
  return g_build_filename (fixture->state_dir, name, NULL);
}

static char *
tmp_write (HearthTestFixture *fixture, const char *name, const char *contents)
{
  g_autoptr (GError) error = NULL;
  char *path = tmp_path (fixture, name);

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

static char *
tmp_read (const char *path)
{
  g_autoptr (GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

/* Runs certtool with @args (NULL-terminated) and returns what it printed. */
static char *
certtool (const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  char *out = NULL;
  int status;

  g_ptr_array_add (argv, (gpointer) "certtool");
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH,
                NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("certtool failed: %s\n%s", error->message, err);
  return out;
}

static char *
certtool_info (HearthTestFixture *fixture, const char *cert_pem)
{
  g_autofree char *path = tmp_write (fixture, "info.pem", cert_pem);

  return certtool ((const char *const[]) { "-i", "--infile", path, NULL });
}

/* The first capture of @pattern in @text, or NULL. */
static char *
match (const char *text, const char *pattern)
{
  g_autoptr (GRegex) regex = NULL;
  g_autoptr (GMatchInfo) info = NULL;
  g_autoptr (GError) error = NULL;

  regex = g_regex_new (pattern, G_REGEX_MULTILINE, 0, &error);
  g_assert_no_error (error);
  if (!g_regex_match (regex, text, 0, &info))
    return NULL;
  return g_match_info_fetch (info, 1);
}

static char *
certtool_fingerprint (HearthTestFixture *fixture, const char *cert_pem)
{
  g_autofree char *info = certtool_info (fixture, cert_pem);

  return match (info, "Fingerprint:\\s*sha1:[0-9a-f]+\\s*sha256:([0-9a-f]{64})");
}

static char *
make_ca (char **key_pem)
{
  g_autoptr (GError) error = NULL;
  char *cert_pem = NULL;

  g_assert_true (hearth_pki_make_ca ("Home", HEARTH_PKI_CA_DAYS, &cert_pem, key_pem, &error));
  g_assert_no_error (error);
  g_assert_nonnull (cert_pem);
  g_assert_nonnull (*key_pem);
  return cert_pem;
}

static char *
make_key (void)
{
  g_autoptr (GError) error = NULL;
  char *key_pem = hearth_pki_generate_key (&error);

  g_assert_no_error (error);
  g_assert_nonnull (key_pem);
  return key_pem;
}

static char *
public_key (const char *key_pem)
{
  g_autoptr (GError) error = NULL;
  char *pub_pem = hearth_pki_public_key_from_private (key_pem, &error);

  g_assert_no_error (error);
  g_assert_nonnull (pub_pem);
  return pub_pem;
}

static char *
issue (const char *ca_pem, const char *ca_key_pem, const char *key_pem, guint64 serial)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *pub_pem = public_key (key_pem);
  char *cert_pem;

  cert_pem = hearth_pki_issue_client_cert (ca_pem, ca_key_pem, pub_pem, "Kitchen display",
                                           serial, HEARTH_PKI_CLIENT_DAYS, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cert_pem);
  return cert_pem;
}

/* Verifies @cert_pem against @ca_pem through the DER API, as the stream server does. */
static gboolean
verify (const char *cert_pem, const char *ca_pem, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GBytes) der = hearth_pki_cert_der_from_pem (cert_pem, &local_error);
  gsize len;
  const guint8 *data;

  g_assert_no_error (local_error);
  data = g_bytes_get_data (der, &len);
  return hearth_pki_verify_issued_by (data, len, ca_pem, error);
}

static char *
tls_fingerprint (GTlsCertificate *cert)
{
  g_autoptr (GByteArray) der = NULL;

  g_object_get (cert, "certificate", &der, NULL);
  g_assert_nonnull (der);
  return hearth_pki_fingerprint_der (der->data, der->len);
}

static GTlsCertificate *
tls_certificate (const char *cert_pem, const char *key_pem)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *both = g_strconcat (cert_pem, key_pem, NULL);
  GTlsCertificate *cert = g_tls_certificate_new_from_pem (both, -1, &error);

  g_assert_no_error (error);
  g_assert_nonnull (cert);
  return cert;
}

static void
test_generate_key (void)
{
  g_autofree char *key1 = make_key ();
  g_autofree char *key2 = make_key ();
  g_autofree char *pub1 = public_key (key1);
  g_autofree char *pub1_again = public_key (key1);
  g_autofree char *pub2 = public_key (key2);
  g_autoptr (GError) error = NULL;
  g_autofree char *bad = NULL;

  g_assert_true (g_str_has_prefix (key1, "-----BEGIN PRIVATE KEY-----\n"));
  g_assert_cmpstr (key1, !=, key2);

  g_assert_true (g_str_has_prefix (pub1, "-----BEGIN PUBLIC KEY-----\n"));
  g_assert_cmpstr (pub1, ==, pub1_again);
  g_assert_cmpstr (pub1, !=, pub2);
  g_assert_null (strstr (pub1, "PRIVATE"));

  bad = hearth_pki_public_key_from_private ("-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                            "-----END PRIVATE KEY-----\n", &error);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_assert_null (bad);
}

/* The same keys as certtool sees them: P-256, and the public key matches. */
static void
test_key_certtool (HearthTestFixture *fixture, gconstpointer data)
{
  g_autofree char *key = make_key ();
  g_autofree char *pub = public_key (key);
  g_autofree char *key_path = tmp_write (fixture, "key.pem", key);
  g_autofree char *info = NULL;
  g_autofree char *pub_by_certtool = NULL;

  info = certtool ((const char *const[]) { "-k", "--infile", key_path, NULL });
  g_assert_nonnull (strstr (info, "SECP256R1"));

  pub_by_certtool = certtool ((const char *const[]) {
    "--load-privkey", key_path, "--pubkey-info", NULL });
  g_assert_nonnull (strstr (pub_by_certtool, pub));
}

static void
test_server_cert (HearthTestFixture *fixture, gconstpointer data)
{
  const char *const dns[] = { "hearth.local", "localhost", NULL };
  const char *const ips[] = { "127.0.0.1", "192.168.1.20", "::1", "fe80::1%eth0", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *key = make_key ();
  g_autofree char *cert = NULL;
  g_autofree char *info = NULL;
  g_autoptr (GTlsCertificate) tls = NULL;
  g_autoptr (GPtrArray) tls_ips = NULL;
  g_autoptr (GPtrArray) tls_dns = NULL;
  g_autoptr (GDateTime) not_before = NULL;
  g_autoptr (GDateTime) not_after = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *subject = NULL;
  g_autofree char *serial = NULL;

  cert = hearth_pki_make_server_cert (key, "Hearth gateway", dns, ips,
                                      HEARTH_PKI_SERVER_DAYS, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (cert, "-----BEGIN CERTIFICATE-----\n"));

  /* GIO reads it with its key, and sees every name. */
  tls = tls_certificate (cert, key);
  g_object_get (tls, "subject-name", &subject, NULL);
  g_assert_cmpstr (subject, ==, "CN=Hearth gateway");

  tls_ips = g_tls_certificate_get_ip_addresses (tls);
  g_assert_nonnull (tls_ips);
  g_assert_cmpuint (tls_ips->len, ==, 4);
  for (guint i = 0; i < 3; i++) {
    g_autofree char *text = g_inet_address_to_string (g_ptr_array_index (tls_ips, i));

    g_assert_cmpstr (text, ==, ips[i]);
  }
  {
    g_autofree char *text = g_inet_address_to_string (g_ptr_array_index (tls_ips, 3));

    g_assert_cmpstr (text, ==, "fe80::1");
  }

  tls_dns = g_tls_certificate_get_dns_names (tls);
  g_assert_nonnull (tls_dns);
  g_assert_cmpuint (tls_dns->len, ==, 2);
  for (guint i = 0; i < 2; i++) {
    GBytes *name = g_ptr_array_index (tls_dns, i);
    gsize len;
    const char *bytes = g_bytes_get_data (name, &len);

    g_assert_cmpmem (bytes, len, dns[i], strlen (dns[i]));
  }

  /* Valid since about an hour ago, for the given number of days. */
  not_before = g_tls_certificate_get_not_valid_before (tls);
  not_after = g_tls_certificate_get_not_valid_after (tls);
  g_assert_cmpint (g_date_time_difference (now, not_before), >=, 59 * G_TIME_SPAN_MINUTE);
  g_assert_cmpint (g_date_time_difference (now, not_before), <=, 61 * G_TIME_SPAN_MINUTE);
  g_assert_cmpint (g_date_time_difference (not_after, now) / G_TIME_SPAN_DAY, ==,
                   HEARTH_PKI_SERVER_DAYS - 1);

  /* Extensions, as an independent parser prints them. */
  info = certtool_info (fixture, cert);
  g_assert_nonnull (strstr (info, "Version: 3\n"));
  g_assert_nonnull (strstr (info, "Certificate Authority (CA): FALSE"));
  g_assert_nonnull (strstr (info, "IPAddress: 192.168.1.20"));
  g_assert_nonnull (strstr (info, "IPAddress: ::1"));
  g_assert_nonnull (strstr (info, "DNSname: hearth.local"));
  g_assert_nonnull (strstr (info, "Digital signature."));
  g_assert_nonnull (strstr (info, "TLS WWW Server."));
  g_assert_nonnull (strstr (info, "Subject Key Identifier"));
  g_assert_nonnull (strstr (info, "Signature Algorithm: ECDSA-SHA256"));
  /* 16 random bytes, positive. */
  serial = match (info, "Serial Number \\(hex\\): ([0-7][0-9a-f]{31})$");
  g_assert_nonnull (serial);
}

static void
test_server_cert_invalid (void)
{
  const char *const bad_ip[] = { "127.0.0.1", "not-an-ip", NULL };
  const char *const empty_dns[] = { "", NULL };
  g_autofree char *key = make_key ();
  g_autofree char *long_name = g_strnfill (65, 'x');
  struct {
    const char *key;
    const char *cn;
    const char *const *dns;
    const char *const *ips;
    guint days;
  } cases[] = {
    { key, "gw", NULL, bad_ip, 10 },
    { key, "gw", empty_dns, NULL, 10 },
    { key, "", NULL, NULL, 10 },
    { key, long_name, NULL, NULL, 10 },
    { key, "bad\xff", NULL, NULL, 10 },
    { key, "gw", NULL, NULL, 0 },
    { "not a key", "gw", NULL, NULL, 10 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *cert = NULL;

    cert = hearth_pki_make_server_cert (cases[i].key, cases[i].cn, cases[i].dns,
                                        cases[i].ips, cases[i].days, &error);
    g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, error ? error->message : "(none)");
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
    g_assert_null (cert);
  }
}

static void
test_fingerprint_certtool (HearthTestFixture *fixture, gconstpointer data)
{
  g_autofree char *key = make_key ();
  g_autofree char *ca_key = NULL;
  g_autofree char *ca = make_ca (&ca_key);
  g_autofree char *client = issue (ca, ca_key, key, 3);
  g_autoptr (GError) error = NULL;
  g_autofree char *server = NULL;
  const char *certs[3];

  server = hearth_pki_make_server_cert (key, "gw", NULL, NULL, 1, &error);
  g_assert_no_error (error);
  certs[0] = server;
  certs[1] = ca;
  certs[2] = client;

  for (gsize i = 0; i < G_N_ELEMENTS (certs); i++) {
    g_autofree char *fp = hearth_pki_fingerprint_pem (certs[i], &error);
    g_autofree char *expected = certtool_fingerprint (fixture, certs[i]);
    g_autoptr (GTlsCertificate) tls = g_tls_certificate_new_from_pem (certs[i], -1, &error);
    g_autofree char *from_tls = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (expected);
    g_assert_cmpuint (strlen (fp), ==, 64);
    g_assert_cmpstr (fp, ==, expected);

    from_tls = tls_fingerprint (tls);
    g_assert_cmpstr (from_tls, ==, expected);
  }

  g_assert_null (hearth_pki_fingerprint_pem ("garbage", &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
}

static void
test_ca (HearthTestFixture *fixture, gconstpointer data)
{
  g_autofree char *ca_key = NULL;
  g_autofree char *ca = make_ca (&ca_key);
  g_autofree char *other_key = NULL;
  g_autofree char *other = make_ca (&other_key);
  g_autofree char *info = certtool_info (fixture, ca);

  g_assert_true (g_str_has_prefix (ca_key, "-----BEGIN PRIVATE KEY-----\n"));
  g_assert_cmpstr (ca_key, !=, other_key);
  g_assert_cmpstr (ca, !=, other);

  g_assert_nonnull (strstr (info, "Subject: CN=Home\n"));
  g_assert_nonnull (strstr (info, "Issuer: CN=Home\n"));
  g_assert_nonnull (strstr (info, "Certificate Authority (CA): TRUE"));
  g_assert_nonnull (strstr (info, "Path Length Constraint: 0"));
  g_assert_nonnull (strstr (info, "Certificate signing."));
  g_assert_nonnull (strstr (info, "CRL signing."));
}

static void
test_client_cert (HearthTestFixture *fixture, gconstpointer data)
{
  g_autofree char *ca_key = NULL;
  g_autofree char *ca = make_ca (&ca_key);
  g_autofree char *display_key = make_key ();
  g_autofree char *client = issue (ca, ca_key, display_key, 7);
  g_autofree char *big = issue (ca, ca_key, display_key, G_GUINT64_CONSTANT (0x8000000000000001));
  g_autofree char *ca_info = certtool_info (fixture, ca);
  g_autofree char *info = certtool_info (fixture, client);
  g_autofree char *big_info = certtool_info (fixture, big);
  g_autofree char *ca_ski = NULL;
  g_autofree char *aki = NULL;
  g_autofree char *ca_path = tmp_write (fixture, "ca.pem", ca);
  g_autofree char *client_path = tmp_write (fixture, "client.pem", client);
  g_autofree char *verified = NULL;
  g_autoptr (GTlsCertificate) tls = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (strstr (info, "Serial Number (hex): 07\n"));
  g_assert_nonnull (strstr (big_info, "Serial Number (hex): 008000000000000001\n"));
  g_assert_nonnull (strstr (info, "Subject: CN=Kitchen display\n"));
  g_assert_nonnull (strstr (info, "Issuer: CN=Home\n"));
  g_assert_nonnull (strstr (info, "Certificate Authority (CA): FALSE"));
  g_assert_nonnull (strstr (info, "TLS WWW Client."));
  g_assert_null (strstr (info, "TLS WWW Server."));

  ca_ski = match (ca_info, "Subject Key Identifier.*\\n\\s*([0-9a-f]+)$");
  aki = match (info, "Authority Key Identifier.*\\n\\s*([0-9a-f]+)$");
  g_assert_nonnull (ca_ski);
  g_assert_cmpstr (aki, ==, ca_ski);

  /* The display can use it with the key it kept. */
  tls = tls_certificate (client, display_key);
  g_assert_nonnull (tls);

  /* An independent verifier agrees. */
  verified = certtool ((const char *const[]) {
    "--verify", "--load-ca-certificate", ca_path, "--infile", client_path, NULL });
  g_assert_nonnull (strstr (verified, "Chain verification output: Verified."));

  g_assert_true (verify (client, ca, &error));
  g_assert_no_error (error);
}

static void
test_verify_denied (HearthTestFixture *fixture, gconstpointer data)
{
  g_autofree char *ca_key = NULL;
  g_autofree char *ca = make_ca (&ca_key);
  g_autofree char *other_key = NULL;
  g_autofree char *other = make_ca (&other_key);  /* same CN "Home" */
  g_autofree char *display_key = make_key ();
  g_autofree char *client = issue (ca, ca_key, display_key, 1);
  g_autofree char *from_other = issue (other, other_key, display_key, 1);
  g_autofree char *self_signed = NULL;
  g_autoptr (GError) error = NULL;
  const guint8 garbage[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };

  self_signed = hearth_pki_make_server_cert (display_key, "Kitchen display", NULL, NULL, 10, &error);
  g_assert_no_error (error);

  g_assert_true (verify (client, ca, &error));
  g_assert_no_error (error);
  g_assert_true (verify (from_other, other, &error));
  g_assert_no_error (error);

  /* Another household's CA, with the same name. */
  g_assert_false (verify (client, other, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  g_assert_nonnull (strstr (error->message, "not issued by this CA"));
  g_clear_error (&error);
  g_assert_false (verify (from_other, ca, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  g_clear_error (&error);

  /* A certificate the display made for itself. */
  g_assert_false (verify (self_signed, ca, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  g_assert_nonnull (strstr (error->message, "not issued by this CA"));
  g_clear_error (&error);

  /* The CA certificate presented as if it were a display's. */
  g_assert_false (verify (ca, ca, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  g_clear_error (&error);

  /* Not a certificate at all. */
  g_assert_false (hearth_pki_verify_issued_by (garbage, sizeof garbage, ca, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  g_clear_error (&error);

  /* A broken CA is the gateway's problem, not the peer's. */
  {
    g_autoptr (GBytes) der = hearth_pki_cert_der_from_pem (client, NULL);
    gsize len;
    const guint8 *bytes = g_bytes_get_data (der, &len);

    g_assert_false (hearth_pki_verify_issued_by (bytes, len, "not a CA", &error));
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS);
    g_clear_error (&error);
  }
}

/* Certificates from the right CA but outside their validity, made by certtool. */
static void
test_verify_time (HearthTestFixture *fixture, gconstpointer data)
{
  struct {
    const char *activation;
    const char *expiration;
    const char *reason;
  } cases[] = {
    { "2020-01-01 00:00:00", "2020-06-01 00:00:00", "expired" },
    { "2090-01-01 00:00:00", "2091-01-01 00:00:00", "not yet valid" },
  };
  g_autofree char *ca_key = NULL;
  g_autofree char *ca = make_ca (&ca_key);
  g_autofree char *display_key = make_key ();
  g_autofree char *ca_path = tmp_write (fixture, "ca.pem", ca);
  g_autofree char *ca_key_path = tmp_write (fixture, "ca-key.pem", ca_key);
  g_autofree char *key_path = tmp_write (fixture, "key.pem", display_key);
  g_autofree char *out_path = tmp_path (fixture, "cert.pem");

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *template = g_strdup_printf ("cn = \"Old display\"\nserial = 9\n"
                                                 "activation_date = \"%s\"\n"
                                                 "expiration_date = \"%s\"\n"
                                                 "tls_www_client\nsigning_key\n",
                                                 cases[i].activation, cases[i].expiration);
    g_autofree char *template_path = tmp_write (fixture, "template", template);
    g_autofree char *out = NULL;
    g_autofree char *cert = NULL;
    g_autoptr (GError) error = NULL;

    out = certtool ((const char *const[]) {
      "--generate-certificate", "--load-privkey", key_path,
      "--load-ca-certificate", ca_path, "--load-ca-privkey", ca_key_path,
      "--template", template_path, "--outfile", out_path, NULL });
    cert = tmp_read (out_path);

    g_assert_false (verify (cert, ca, &error));
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
    g_assert_nonnull (strstr (error->message, cases[i].reason));
  }
}

static void
test_client_key_refused (HearthTestFixture *fixture, gconstpointer data)
{
  const char *const key_types[][4] = {
    { "--key-type", "rsa", "--bits", "2048" },
    { "--key-type", "ecdsa", "--curve", "secp384r1" },
    { "--key-type", "ed25519", NULL, NULL },
  };
  g_autofree char *ca_key = NULL;
  g_autofree char *ca = make_ca (&ca_key);
  g_autofree char *key_path = tmp_path (fixture, "other.key");

  for (gsize i = 0; i < G_N_ELEMENTS (key_types); i++) {
    g_autofree char *generated = NULL;
    g_autofree char *info = NULL;
    g_autofree char *pub = NULL;
    g_autofree char *cert = NULL;
    g_autoptr (GError) error = NULL;

    generated = certtool ((const char *const[]) {
      "--generate-privkey", "--outfile", key_path,
      key_types[i][0], key_types[i][1], key_types[i][2], key_types[i][3], NULL });
    info = certtool ((const char *const[]) { "--load-privkey", key_path, "--pubkey-info", NULL });
    pub = match (info, "(-----BEGIN PUBLIC KEY-----[^-]+-----END PUBLIC KEY-----)");
    g_assert_nonnull (pub);

    cert = hearth_pki_issue_client_cert (ca, ca_key, pub, "Kitchen display", 1, 10, &error);
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
    g_assert_cmpstr (error->message, ==, "public key must be ECDSA P-256");
    g_assert_null (cert);
  }

  /* Not a public key at all: a certificate, a private key, garbage. */
  {
    const char *bad[] = { ca, ca_key, "", "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n" };

    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
      g_autoptr (GError) error = NULL;
      g_autofree char *cert = NULL;

      cert = hearth_pki_issue_client_cert (ca, ca_key, bad[i], "Kitchen display", 1, 10, &error);
      g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
      g_assert_null (cert);
    }
  }
}

static void
test_client_cert_wrong_ca_key (void)
{
  g_autofree char *ca_key = NULL;
  g_autofree char *ca = make_ca (&ca_key);
  g_autofree char *other_key = NULL;
  g_autofree char *other = make_ca (&other_key);
  g_autofree char *display_key = make_key ();
  g_autofree char *pub = public_key (display_key);
  g_autofree char *cert = NULL;
  g_autoptr (GError) error = NULL;

  cert = hearth_pki_issue_client_cert (ca, other_key, pub, "Kitchen display", 1, 10, &error);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS);
  g_assert_null (cert);
  g_clear_error (&error);

  /* A name a display chose is checked like any input. */
  cert = hearth_pki_issue_client_cert (ca, ca_key, pub, "tab\there", 1, 10, &error);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_assert_null (cert);
}

typedef struct {
  HearthTestFixture *fixture;
  const char *ca_pem;
  const char *expected_server_fp;
  gboolean server_done;
  gboolean client_done;
  GError *server_error;
  GError *client_error;
  char *server_saw_fp;  /* the client certificate, as the server's handler saw it */
  char *client_saw_fp;  /* the server certificate, as the client's handler saw it */
} Handshake;

static gboolean
on_server_accept (GTlsConnection *conn,
                  GTlsCertificate *peer,
                  GTlsCertificateFlags errors,
                  gpointer user_data)
{
  Handshake *hs = user_data;
  g_autoptr (GByteArray) der = NULL;
  g_autoptr (GError) error = NULL;

  g_object_get (peer, "certificate", &der, NULL);
  g_free (hs->server_saw_fp);
  hs->server_saw_fp = hearth_pki_fingerprint_der (der->data, der->len);
  return hearth_pki_verify_issued_by (der->data, der->len, hs->ca_pem, &error);
}

static gboolean
on_client_accept (GTlsConnection *conn,
                  GTlsCertificate *peer,
                  GTlsCertificateFlags errors,
                  gpointer user_data)
{
  Handshake *hs = user_data;

  /* Pinning, as a display does with the fingerprint from the QR code. */
  g_free (hs->client_saw_fp);
  hs->client_saw_fp = tls_fingerprint (peer);
  return g_strcmp0 (hs->client_saw_fp, hs->expected_server_fp) == 0;
}

static void
on_server_handshake (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Handshake *hs = user_data;

  g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &hs->server_error);
  hs->server_done = TRUE;
}

static void
on_client_handshake (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Handshake *hs = user_data;

  g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &hs->client_error);
  hs->client_done = TRUE;
}

static gboolean
handshake_done (gpointer user_data)
{
  Handshake *hs = user_data;

  return hs->server_done && hs->client_done;
}

static GIOStream *
socket_stream (int fd)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

/*
 * A real handshake over a socket pair: the server presents @server_tls and
 * requires a client certificate, the client presents @client_tls (or none).
 */
static void
run_handshake (Handshake *hs, GTlsCertificate *server_tls, GTlsCertificate *client_tls)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GIOStream) server_base = NULL;
  g_autoptr (GIOStream) client_base = NULL;
  g_autoptr (GIOStream) server = NULL;
  g_autoptr (GIOStream) client = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  server_base = socket_stream (fds[0]);
  client_base = socket_stream (fds[1]);

  server = g_tls_server_connection_new (server_base, server_tls, &error);
  g_assert_no_error (error);
  g_object_set (server, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED, NULL);
  g_signal_connect (server, "accept-certificate", G_CALLBACK (on_server_accept), hs);

  client = g_tls_client_connection_new (client_base, NULL, &error);
  g_assert_no_error (error);
  if (client_tls != NULL)
    g_tls_connection_set_certificate (G_TLS_CONNECTION (client), client_tls);
  g_signal_connect (client, "accept-certificate", G_CALLBACK (on_client_accept), hs);

  g_tls_connection_handshake_async (G_TLS_CONNECTION (server), G_PRIORITY_DEFAULT,
                                    NULL, on_server_handshake, hs);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (client), G_PRIORITY_DEFAULT,
                                    NULL, on_client_handshake, hs);
  g_assert_true (hearth_test_wait_for (hs->fixture, handshake_done, hs,
                                       HANDSHAKE_TIMEOUT_SECONDS));

  g_io_stream_close (server, NULL, NULL);
  g_io_stream_close (client, NULL, NULL);
}

static void
handshake_clear (Handshake *hs)
{
  g_clear_error (&hs->server_error);
  g_clear_error (&hs->client_error);
  g_clear_pointer (&hs->server_saw_fp, g_free);
  g_clear_pointer (&hs->client_saw_fp, g_free);
  hs->server_done = FALSE;
  hs->client_done = FALSE;
}

static void
test_tls_handshake (HearthTestFixture *fixture, gconstpointer data)
{
  const char *const ips[] = { "127.0.0.1", NULL };
  g_autofree char *ca_key = NULL;
  g_autofree char *ca = make_ca (&ca_key);
  g_autofree char *other_key = NULL;
  g_autofree char *other = make_ca (&other_key);
  g_autofree char *server_key = make_key ();
  g_autofree char *display_key = make_key ();
  g_autofree char *server_cert = NULL;
  g_autofree char *client_cert = issue (ca, ca_key, display_key, 42);
  g_autofree char *foreign_cert = issue (other, other_key, display_key, 42);
  g_autofree char *server_fp = NULL;
  g_autofree char *client_fp = NULL;
  g_autofree char *foreign_fp = NULL;
  g_autoptr (GTlsCertificate) server_tls = NULL;
  g_autoptr (GTlsCertificate) client_tls = NULL;
  g_autoptr (GTlsCertificate) foreign_tls = NULL;
  g_autoptr (GError) error = NULL;
  Handshake hs = { .fixture = fixture };

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    g_error ("No TLS backend: is glib-networking installed?");

  server_cert = hearth_pki_make_server_cert (server_key, "Hearth gateway", NULL, ips, 10, &error);
  g_assert_no_error (error);
  server_fp = hearth_pki_fingerprint_pem (server_cert, &error);
  g_assert_no_error (error);
  client_fp = hearth_pki_fingerprint_pem (client_cert, &error);
  g_assert_no_error (error);
  foreign_fp = hearth_pki_fingerprint_pem (foreign_cert, &error);
  g_assert_no_error (error);
  server_tls = tls_certificate (server_cert, server_key);
  client_tls = tls_certificate (client_cert, display_key);
  foreign_tls = tls_certificate (foreign_cert, display_key);

  hs.ca_pem = ca;
  hs.expected_server_fp = server_fp;

  /* The display of this household gets in, and both sides saw the other. */
  run_handshake (&hs, server_tls, client_tls);
  g_assert_no_error (hs.server_error);
  g_assert_no_error (hs.client_error);
  g_assert_cmpstr (hs.server_saw_fp, ==, client_fp);
  g_assert_cmpstr (hs.client_saw_fp, ==, server_fp);
  handshake_clear (&hs);

  /* The same key with another household's certificate does not. */
  run_handshake (&hs, server_tls, foreign_tls);
  g_assert_nonnull (hs.server_error);
  g_test_message ("foreign certificate: %s", hs.server_error->message);
  g_assert_cmpstr (hs.server_saw_fp, ==, foreign_fp);
  g_assert_cmpstr (hs.client_saw_fp, ==, server_fp);
  handshake_clear (&hs);

  /* Nor does a client without a certificate; no handler even runs. */
  run_handshake (&hs, server_tls, NULL);
  g_assert_nonnull (hs.server_error);
  g_test_message ("no certificate: %s", hs.server_error->message);
  g_assert_null (hs.server_saw_fp);
  handshake_clear (&hs);
}

static void
assert_private_file (const char *path, const char *contents)
{
  g_autofree char *read_back = tmp_read (path);
  struct stat st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpstr (read_back, ==, contents);
}

static guint
count_entries (const char *dir_path)
{
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
test_write_private_file (HearthTestFixture *fixture, gconstpointer data)
{
  g_autofree char *path = tmp_path (fixture, "key.pem");
  g_autofree char *subdir = tmp_path (fixture, "a-directory");
  g_autofree char *missing = tmp_path (fixture, "no-such-dir/key.pem");
  g_autoptr (GError) error = NULL;
  struct stat before, after;
  char old_contents[16] = { 0 };
  mode_t old_umask;
  int old_fd;

  /* Exactly 0600 even under a permissive umask. */
  old_umask = umask (0);
  g_assert_true (hearth_pki_write_private_file (path, "first secret", -1, &error));
  umask (old_umask);
  g_assert_no_error (error);
  assert_private_file (path, "first secret");

  /* Replacing: a reader that had the old file open keeps reading the whole old
   * file (a new inode took its name; nothing was truncated in place), and a
   * file with looser permissions becomes 0600. */
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);
  g_assert_cmpint (g_stat (path, &before), ==, 0);
  old_fd = g_open (path, O_RDONLY, 0);
  g_assert_cmpint (old_fd, >=, 0);

  g_assert_true (hearth_pki_write_private_file (path, "second secret, longer", 6, &error));
  g_assert_no_error (error);
  assert_private_file (path, "second");
  g_assert_cmpint (g_stat (path, &after), ==, 0);
  g_assert_cmpuint (before.st_ino, !=, after.st_ino);

  g_assert_cmpint (read (old_fd, old_contents, sizeof old_contents - 1), ==, strlen ("first secret"));
  g_assert_cmpstr (old_contents, ==, "first secret");
  close (old_fd);

  /* No temporary file is left behind. */
  g_assert_cmpuint (count_entries (fixture->state_dir), ==, 1);

  /* Empty contents are fine. */
  g_assert_true (hearth_pki_write_private_file (path, "", 0, &error));
  g_assert_no_error (error);
  assert_private_file (path, "");

  /* Failures: the rename fails (a directory is in the way), the temporary
   * file is removed; the directory does not exist. */
  g_assert_cmpint (g_mkdir (subdir, 0700), ==, 0);
  g_assert_false (hearth_pki_write_private_file (subdir, "secret", -1, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (count_entries (fixture->state_dir), ==, 2);

  g_assert_false (hearth_pki_write_private_file (missing, "secret", -1, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (count_entries (fixture->state_dir), ==, 2);
}

static void
test_random_equal (void)
{
  g_autoptr (GError) error = NULL;
  guint8 a[32], b[32], zero[32] = { 0 }, c[32];

  g_assert_true (hearth_pki_random (a, sizeof a, &error));
  g_assert_no_error (error);
  g_assert_true (hearth_pki_random (b, sizeof b, &error));
  g_assert_no_error (error);

  g_assert_false (hearth_pki_equal_ct (a, b, sizeof a));
  g_assert_false (hearth_pki_equal_ct (a, zero, sizeof a));
  g_assert_true (hearth_pki_equal_ct (a, a, sizeof a));
  g_assert_true (hearth_pki_equal_ct (a, b, 0));

  memcpy (c, a, sizeof c);
  g_assert_true (hearth_pki_equal_ct (a, c, sizeof c));
  c[31] ^= 1;
  g_assert_false (hearth_pki_equal_ct (a, c, sizeof c));
  c[31] ^= 1;
  c[0] ^= 0x80;
  g_assert_false (hearth_pki_equal_ct (a, c, sizeof c));
}

/* --- the gateway's root CA and the server certificate it signs ---------------------- */

static const char *const root_domains[] = { "local", "localhost", "gw", NULL };
static const char *const root_ranges[] = { "127.0.0.0/8", "192.168.0.0/16", "fc00::/7", NULL };

static char *
make_root_ca (char **key_pem)
{
  g_autoptr (GError) error = NULL;
  char *cert_pem = NULL;

  g_assert_true (hearth_pki_make_root_ca ("Hearth gateway gw root", HEARTH_PKI_CA_DAYS,
                                          root_domains, root_ranges, &cert_pem, key_pem,
                                          &error));
  g_assert_no_error (error);
  return cert_pem;
}

static char *
issue_server (const char *ca, const char *ca_key, const char *key,
              const char *const *dns, const char *const *ips)
{
  g_autoptr (GError) error = NULL;
  char *cert = hearth_pki_issue_server_cert (ca, ca_key, key, "gw", dns, ips,
                                             HEARTH_PKI_SERVER_DAYS, &error);

  g_assert_no_error (error);
  g_assert_nonnull (cert);
  return cert;
}

/* certtool --verify of @cert_pem with @ca_pem as its only CA. */
static gboolean
certtool_verifies (HearthTestFixture *fixture, const char *cert_pem, const char *ca_pem)
{
  g_autofree char *cert_path = tmp_write (fixture, "verify-cert.pem", cert_pem);
  g_autofree char *ca_path = tmp_write (fixture, "verify-ca.pem", ca_pem);
  const char *argv[] = { "certtool", "--verify", "--load-ca-certificate", ca_path,
                         "--infile", cert_path, NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, &out, NULL, &status, &error);
  g_assert_no_error (error);
  return g_spawn_check_wait_status (status, NULL);
}

static void
test_root_ca (HearthTestFixture *fixture, gconstpointer data)
{
  g_autofree char *key = NULL;
  g_autofree char *ca = make_root_ca (&key);
  g_autofree char *info = certtool_info (fixture, ca);
  const char *const lines[] = {
    "Subject: CN=Hearth gateway gw root", "Issuer: CN=Hearth gateway gw root",
    "Basic Constraints (critical):\n\t\t\tCertificate Authority (CA): TRUE\n"
    "\t\t\tPath Length Constraint: 0\n",
    "Key Usage (critical):\n\t\t\tCertificate signing.\n\t\t\tCRL signing.\n",
    "Subject Key Identifier", "Name Constraints (not critical):",
    "DNSname: local\n", "DNSname: localhost\n", "DNSname: gw\n",
    "IPAddress: 127.0.0.0/8\n", "IPAddress: 192.168.0.0/16\n", "IPAddress: fc00::/7\n",
    "Curve:\tSECP256R1",
  };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) dns_parts = g_strsplit (info, "DNSname:", -1);
  char *bad_cert = NULL, *bad_key = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++) {
    if (strstr (info, lines[i]) == NULL)
      g_error ("no “%s” in\n%s", lines[i], info);
  }
  /* No other subtree: the names of this host, its local addresses. */
  g_assert_null (strstr (info, "Excluded"));
  g_assert_cmpuint (g_strv_length (dns_parts) - 1, ==, 3);

  g_assert_true (hearth_pki_ca_permits (ca, "gw.local"));
  g_assert_true (hearth_pki_ca_permits (ca, "gw"));
  g_assert_true (hearth_pki_ca_permits (ca, "localhost"));
  g_assert_true (hearth_pki_ca_permits (ca, "127.0.0.1"));
  g_assert_true (hearth_pki_ca_permits (ca, "192.168.7.9"));
  g_assert_true (hearth_pki_ca_permits (ca, "fd00::2"));
  g_assert_false (hearth_pki_ca_permits (ca, "example.com"));
  g_assert_false (hearth_pki_ca_permits (ca, "gw.example.com"));
  g_assert_false (hearth_pki_ca_permits (ca, "10.1.2.3"));
  g_assert_false (hearth_pki_ca_permits (ca, "2001:db8::1"));

  g_assert_false (hearth_pki_make_root_ca ("x", 10, root_domains,
                                           (const char *const[]) { "not-a-range", NULL },
                                           &bad_cert, &bad_key, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_assert_null (bad_cert);
}

static void
test_server_cert_issued (HearthTestFixture *fixture, gconstpointer data)
{
  const char *const dns[] = { "localhost", "gw", "gw.local", NULL };
  const char *const ips[] = { "127.0.0.1", "192.168.1.20", "fd00::2", NULL };
  g_autofree char *ca_key = NULL;
  g_autofree char *ca = make_root_ca (&ca_key);
  g_autofree char *other_key = NULL;
  g_autofree char *other = make_ca (&other_key);
  g_autofree char *key = make_key ();
  g_autofree char *cert = issue_server (ca, ca_key, key, dns, ips);
  g_autofree char *outside = NULL;
  g_autofree char *info = certtool_info (fixture, cert);
  g_autoptr (GTlsCertificate) tls = tls_certificate (cert, key);
  g_autoptr (GDateTime) not_before = g_tls_certificate_get_not_valid_before (tls);
  g_autoptr (GDateTime) not_after = g_tls_certificate_get_not_valid_after (tls);
  g_autoptr (GError) error = NULL;
  const char *const lines[] = {
    "Issuer: CN=Hearth gateway gw root", "Subject: CN=gw",
    "Certificate Authority (CA): FALSE", "Digital signature.", "TLS WWW Server.",
    "Authority Key Identifier", "DNSname: localhost\n", "DNSname: gw\n",
    "DNSname: gw.local\n", "IPAddress: 127.0.0.1\n", "IPAddress: 192.168.1.20\n",
    "IPAddress: fd00::2\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++) {
    if (strstr (info, lines[i]) == NULL)
      g_error ("no “%s” in\n%s", lines[i], info);
  }
  /* Apple and Chromium refuse server certificates of more than 398 days. */
  g_assert_cmpint (g_date_time_difference (not_after, not_before), <=, 397 * G_TIME_SPAN_DAY);

  /* It verifies against its CA, by GnuTLS and by certtool, and no other. */
  g_assert_true (verify (cert, ca, &error));
  g_assert_no_error (error);
  g_assert_true (certtool_verifies (fixture, cert, ca));
  g_assert_false (verify (cert, other, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  g_clear_error (&error);
  g_assert_false (certtool_verifies (fixture, cert, other));

  /* A name outside the CA's constraints is refused by a verifier that
   * honours them, even though the CA signed it. */
  outside = issue_server (ca, ca_key, key, (const char *const[]) { "example.com", NULL }, NULL);
  g_assert_false (certtool_verifies (fixture, outside, ca));
  g_clear_pointer (&outside, g_free);
  outside = issue_server (ca, ca_key, key, NULL, (const char *const[]) { "10.1.2.3", NULL });
  g_assert_false (certtool_verifies (fixture, outside, ca));

  /* A household CA's key does not sign as the root CA. */
  g_assert_null (hearth_pki_issue_server_cert (ca, other_key, key, "gw", dns, ips, 10, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS);
}

/* When the served certificate must be issued again: the names and
 * addresses are an input, as hearthd gives them after a network change. */
static void
test_server_cert_renewal (void)
{
  const char *const dns[] = { "localhost", "gw", "gw.local", NULL };
  const char *const ips[] = { "127.0.0.1", "192.168.1.20", NULL };
  const char *const ips_reordered[] = { "192.168.1.20", "127.0.0.1", NULL };
  const char *const ips_added[] = { "127.0.0.1", "192.168.1.20", "192.168.1.21", NULL };
  const char *const ips_removed[] = { "127.0.0.1", NULL };
  const char *const dns_renamed[] = { "localhost", "den", "den.local", NULL };
  gint64 renew = (gint64) HEARTH_PKI_SERVER_RENEW_DAYS * 24 * 3600;
  g_autofree char *ca_key = NULL;
  g_autofree char *ca = make_root_ca (&ca_key);
  g_autofree char *other_ca_key = NULL;
  g_autofree char *other_ca = make_root_ca (&other_ca_key);
  g_autofree char *key = make_key ();
  g_autofree char *other_key = make_key ();
  g_autofree char *cert = issue_server (ca, ca_key, key, dns, ips);
  g_autofree char *self_signed = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (hearth_pki_server_cert_check (cert, ca, key, dns, ips, renew, &error));
  g_assert_no_error (error);
  g_assert_true (hearth_pki_server_cert_check (cert, ca, key, dns, ips_reordered, renew, &error));
  g_assert_no_error (error);

  g_assert_false (hearth_pki_server_cert_check (cert, ca, key, dns, ips_added, renew, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==, "it does not name 192.168.1.21");
  g_clear_error (&error);
  g_assert_false (hearth_pki_server_cert_check (cert, ca, key, dns, ips_removed, renew, &error));
  g_assert_cmpstr (error->message, ==, "it names 192.168.1.20");
  g_clear_error (&error);
  g_assert_false (hearth_pki_server_cert_check (cert, ca, key, dns_renamed, ips, renew, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_clear_error (&error);

  /* Near its end. */
  g_assert_false (hearth_pki_server_cert_check (cert, ca, key, dns, ips,
                                                (gint64) (HEARTH_PKI_SERVER_DAYS + 1) * 24 * 3600,
                                                &error));
  g_assert_true (g_str_has_prefix (error->message, "it expires in "));
  g_clear_error (&error);

  /* Another CA's, another key's, or the self-signed one of an older release. */
  g_assert_false (hearth_pki_server_cert_check (cert, other_ca, key, dns, ips, renew, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (hearth_pki_server_cert_check (cert, ca, other_key, dns, ips, renew, &error));
  g_assert_cmpstr (error->message, ==, "it is for another key");
  g_clear_error (&error);
  self_signed = hearth_pki_make_server_cert (key, "gw", dns, ips, 3650, &error);
  g_assert_no_error (error);
  g_assert_false (hearth_pki_server_cert_check (self_signed, ca, key, dns, ips, renew, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
}

static GPtrArray *
chain_of (const char *const *pems)
{
  GPtrArray *chain = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  for (gsize i = 0; pems[i] != NULL; i++) {
    g_autoptr (GError) error = NULL;

    g_ptr_array_add (chain, hearth_pki_cert_der_from_pem (pems[i], &error));
    g_assert_no_error (error);
  }
  return chain;
}

static char *
fingerprint (const char *pem)
{
  g_autoptr (GError) error = NULL;
  char *fp = hearth_pki_fingerprint_pem (pem, &error);

  g_assert_no_error (error);
  return fp;
}

/* What a display accepts from a gateway, by its pin. */
static void
test_check_pin (void)
{
  const char *const ips[] = { "127.0.0.1", NULL };
  g_autofree char *ca_key = NULL;
  g_autofree char *ca = make_root_ca (&ca_key);
  g_autofree char *other_ca_key = NULL;
  g_autofree char *other_ca = make_root_ca (&other_ca_key);
  g_autofree char *key = make_key ();
  g_autofree char *other_key = make_key ();
  g_autofree char *leaf = issue_server (ca, ca_key, key, NULL, ips);
  g_autofree char *foreign_leaf = issue_server (other_ca, other_ca_key, key, NULL, ips);
  g_autofree char *other_key_leaf = issue_server (ca, ca_key, other_key, NULL, ips);
  g_autofree char *old = hearth_pki_make_server_cert (key, "gw", NULL, ips, 3650, NULL);
  g_autofree char *old_other_key = hearth_pki_make_server_cert (other_key, "gw", NULL, ips,
                                                                3650, NULL);
  g_autofree char *ca_fp = fingerprint (ca);
  g_autofree char *leaf_fp = fingerprint (leaf);
  g_autofree char *old_fp = fingerprint (old);
  g_autofree char *old_other_fp = fingerprint (old_other_key);
  g_autoptr (GPtrArray) chain = chain_of ((const char *const[]) { leaf, ca, NULL });
  g_autoptr (GPtrArray) foreign = chain_of ((const char *const[]) { foreign_leaf, other_ca, NULL });
  g_autoptr (GPtrArray) mixed = chain_of ((const char *const[]) { foreign_leaf, ca, NULL });
  g_autoptr (GPtrArray) other_key_chain = chain_of ((const char *const[]) { other_key_leaf, ca, NULL });
  g_autoptr (GPtrArray) leaf_only = chain_of ((const char *const[]) { leaf, NULL });
  g_autoptr (GPtrArray) old_chain = chain_of ((const char *const[]) { old, NULL });
  g_autoptr (GError) error = NULL;
  g_autofree char *new_fp = NULL;
  g_autofree char *new_pem = NULL;

  /* The pinned CA, with a certificate it signed. */
  g_assert_cmpint (hearth_pki_check_pin (chain, ca_fp, NULL, NULL, NULL, &error), ==,
                   HEARTH_PKI_PIN_MATCH);
  g_assert_no_error (error);
  /* The exact certificate pinned (a gateway older than its CA). */
  g_assert_cmpint (hearth_pki_check_pin (old_chain, old_fp, old, NULL, NULL, &error), ==,
                   HEARTH_PKI_PIN_MATCH);
  g_assert_cmpint (hearth_pki_check_pin (chain, leaf_fp, NULL, NULL, NULL, &error), ==,
                   HEARTH_PKI_PIN_MATCH);

  /* A server certificate from another CA: refused, with or without the
   * pinned CA beside it, and so is the pinned CA without a certificate. */
  g_assert_cmpint (hearth_pki_check_pin (foreign, ca_fp, NULL, NULL, NULL, &error), ==,
                   HEARTH_PKI_PIN_REFUSED);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  g_clear_error (&error);
  g_assert_cmpint (hearth_pki_check_pin (mixed, ca_fp, NULL, NULL, NULL, &error), ==,
                   HEARTH_PKI_PIN_REFUSED);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  g_clear_error (&error);
  g_assert_cmpint (hearth_pki_check_pin (leaf_only, ca_fp, NULL, NULL, NULL, &error), ==,
                   HEARTH_PKI_PIN_REFUSED);
  g_clear_error (&error);

  /* A display that pinned the old self-signed certificate: the same key,
   * now certified by the CA, moves the pin to the CA. */
  g_assert_cmpint (hearth_pki_check_pin (chain, old_fp, old, &new_fp, &new_pem, &error), ==,
                   HEARTH_PKI_PIN_MIGRATE);
  g_assert_no_error (error);
  g_assert_cmpstr (new_fp, ==, ca_fp);
  g_assert_cmpstr (new_pem, ==, ca);
  /* Not without the old certificate, nor for another key, nor when the
   * certificate given is not the one pinned. */
  g_assert_cmpint (hearth_pki_check_pin (chain, old_fp, NULL, NULL, NULL, &error), ==,
                   HEARTH_PKI_PIN_REFUSED);
  g_clear_error (&error);
  g_assert_cmpint (hearth_pki_check_pin (other_key_chain, old_fp, old, NULL, NULL, &error), ==,
                   HEARTH_PKI_PIN_REFUSED);
  g_clear_error (&error);
  g_assert_cmpint (hearth_pki_check_pin (chain, old_other_fp, old, NULL, NULL, &error), ==,
                   HEARTH_PKI_PIN_REFUSED);
  g_clear_error (&error);
  /* A pinned CA never moves to another CA. */
  g_assert_cmpint (hearth_pki_check_pin (foreign, ca_fp, ca, NULL, NULL, &error), ==,
                   HEARTH_PKI_PIN_REFUSED);
  g_clear_error (&error);
}

/* Runs certtool --p12-info on @p12 with @password: its output, or NULL if
 * certtool could not open the file. */
static char *
p12_info (HearthTestFixture *fixture, GBytes *p12, const char *password)
{
  g_autofree char *path = tmp_path (fixture, "identity.p12");
  g_autoptr (GError) error = NULL;
  const char *argv[] = { "certtool", "--p12-info", "--inder", "--infile", path,
                         "--password", password, NULL };
  g_autofree char *err = NULL;
  char *out = NULL;
  int status;

  g_file_set_contents (path, g_bytes_get_data (p12, NULL), (gssize) g_bytes_get_size (p12),
                       &error);
  g_assert_no_error (error);
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL)) {
    g_test_message ("certtool --p12-info: %s", err);
    g_free (out);
    return NULL;
  }
  return out;
}

static guint
count (const char *text, const char *needle)
{
  guint n = 0;

  for (const char *p = strstr (text, needle); p != NULL; p = strstr (p + 1, needle))
    n++;
  return n;
}

/* A browser's identity as PKCS#12: opens only with its password, in a form
 * every importer takes (3DES, SHA-1 MAC, many iterations), and holds the key,
 * its certificate and the certificate authority, the key and certificate
 * tied by one local key id. */
static void
test_pkcs12 (HearthTestFixture *fixture, gconstpointer data)
{
  g_autofree char *ca_key = NULL;
  g_autofree char *ca = make_ca (&ca_key);
  g_autofree char *key = make_key ();
  g_autofree char *other_key = make_key ();
  g_autofree char *cert = issue (ca, ca_key, key, 9);
  const char *const extra[] = { ca, NULL };
  g_autoptr (GBytes) p12 = NULL;
  g_autoptr (GBytes) mismatched = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *info = NULL;
  g_autofree char *wrong = NULL;
  g_autofree char *empty = NULL;
  g_autofree char *key_ids = NULL;
  g_autofree char *second_id = NULL;
  g_autofree char *cert_one_line = NULL;

  p12 = hearth_pki_make_pkcs12 (key, cert, extra, "Hearth Home", "abcd-efgh-jkmn", &error);
  g_assert_no_error (error);
  g_assert_nonnull (p12);

  info = p12_info (fixture, p12, "abcd-efgh-jkmn");
  g_assert_nonnull (info);
  g_test_message ("%s", info);
  g_assert_nonnull (strstr (info, "MAC: SHA1"));
  g_assert_cmpuint (count (info, "Schema: PKCS12-3DES-SHA1"), ==, 2);
  g_assert_null (strstr (info, "PBES2"));
  g_assert_cmpuint (count (info, "Iteration count: 600000"), ==, 3);
  g_assert_cmpuint (count (info, "Type: PKCS #8 Encrypted key"), ==, 1);
  g_assert_cmpuint (count (info, "Type: Certificate"), ==, 2);
  g_assert_cmpuint (count (info, "Friendly name: Hearth Home"), ==, 2);
  /* The certificate and the CA are the ones given, in that order. */
  cert_one_line = g_strstrip (g_strdup (cert));
  g_assert_nonnull (strstr (info, cert_one_line));
  g_assert_true (strstr (info, cert_one_line) < strstr (info, "Type: PKCS #8 Encrypted key"));
  /* One local key id, on the key and on its certificate. */
  key_ids = match (info, "Key ID: ([0-9A-F:]+)");
  g_assert_nonnull (key_ids);
  g_assert_cmpuint (count (info, key_ids), ==, 2);
  second_id = match (strstr (info, "PKCS #8 Encrypted key"), "Key ID: ([0-9A-F:]+)");
  g_assert_cmpstr (second_id, ==, key_ids);

  /* Sealed: another password opens nothing. */
  wrong = p12_info (fixture, p12, "abcd-efgh-jkmm");
  g_assert_null (wrong);
  empty = p12_info (fixture, p12, "");
  g_assert_null (empty);

  /* A certificate of another key is refused, not packed. */
  mismatched = hearth_pki_make_pkcs12 (other_key, cert, NULL, "x", "pw", &error);
  g_assert_null (mismatched);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD_TMP(path, func) hearth_test_add (path, NULL, func)

  g_test_add_func ("/hearth/pki/generate-key", test_generate_key);
  ADD_TMP ("/hearth/pki/key-certtool", test_key_certtool);
  ADD_TMP ("/hearth/pki/server-cert", test_server_cert);
  g_test_add_func ("/hearth/pki/server-cert-invalid", test_server_cert_invalid);
  ADD_TMP ("/hearth/pki/fingerprint-certtool", test_fingerprint_certtool);
  ADD_TMP ("/hearth/pki/ca", test_ca);
  ADD_TMP ("/hearth/pki/client-cert", test_client_cert);
  ADD_TMP ("/hearth/pki/verify-denied", test_verify_denied);
  ADD_TMP ("/hearth/pki/verify-time", test_verify_time);
  ADD_TMP ("/hearth/pki/client-key-refused", test_client_key_refused);
  g_test_add_func ("/hearth/pki/client-cert-wrong-ca-key", test_client_cert_wrong_ca_key);
  ADD_TMP ("/hearth/pki/tls-handshake", test_tls_handshake);
  ADD_TMP ("/hearth/pki/root-ca", test_root_ca);
  ADD_TMP ("/hearth/pki/server-cert-issued", test_server_cert_issued);
  g_test_add_func ("/hearth/pki/server-cert-renewal", test_server_cert_renewal);
  g_test_add_func ("/hearth/pki/check-pin", test_check_pin);
  ADD_TMP ("/hearth/pki/write-private-file", test_write_private_file);
  g_test_add_func ("/hearth/pki/random", test_random_equal);
  ADD_TMP ("/hearth/pki/pkcs12", test_pkcs12);

#undef ADD_TMP

  return g_test_run ();
}
