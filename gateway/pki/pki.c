/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Keys and certificates: the gateway's TLS server certificate, one CA per
 * household, and the client certificates the pairing flow issues to displays
 * from their own public keys. Also the small crypto helpers the rest of the
 * gateway needs (random bytes, constant-time compare, 0600 file writes).
 *
 * This is the only file that includes GnuTLS; everything crosses pki.h as PEM
 * text or DER bytes. The TLS sockets themselves are GIO's (glib-networking).
 * All keys are ECDSA P-256 and every signature is SHA-256.
 */
#define G_LOG_DOMAIN "hearth-pki"

#include "pki.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>

#include "autocleanups.h"
#include "error.h"

#define SECONDS_PER_DAY (24 * 60 * 60)
/* Certificates start one hour in the past, so a peer whose clock is a little
 * behind ours still accepts them. */
#define BACKDATE_SECONDS (60 * 60)
#define MAX_DAYS (100 * 366)
/* X.520 upper bound for a common name, in characters. */
#define MAX_COMMON_NAME 64
#define SERIAL_BYTES 16
#define KEY_ID_MAX 64

static gboolean
set_gnutls_error (GError **error, HearthError code, int ret, const char *what)
{
  g_set_error (error, HEARTH_ERROR, code, "%s: %s", what, gnutls_strerror (ret));
  return FALSE;
}

static gboolean
import_privkey (const char *key_pem, gnutls_privkey_t *out, GError **error)
{
  g_auto (gnutls_privkey_t) key = NULL;
  gnutls_datum_t data;
  int ret;

  g_return_val_if_fail (key_pem != NULL, FALSE);

  ret = gnutls_privkey_init (&key);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot allocate a private key");

  data.data = (unsigned char *) key_pem;
  data.size = strlen (key_pem);
  ret = gnutls_privkey_import_x509_raw (key, &data, GNUTLS_X509_FMT_PEM, NULL, 0);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_INVALID, ret, "Cannot read the PEM private key");

  *out = g_steal_pointer (&key);
  return TRUE;
}

static gboolean
import_crt (const gnutls_datum_t *data,
            gnutls_x509_crt_fmt_t format,
            HearthError code,
            gnutls_x509_crt_t *out,
            GError **error)
{
  g_auto (gnutls_x509_crt_t) crt = NULL;
  int ret;

  ret = gnutls_x509_crt_init (&crt);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot allocate a certificate");

  ret = gnutls_x509_crt_import (crt, data, format);
  if (ret < 0)
    return set_gnutls_error (error, code, ret, "Cannot read the certificate");

  *out = g_steal_pointer (&crt);
  return TRUE;
}

static gboolean
import_crt_pem (const char *cert_pem, gnutls_x509_crt_t *out, GError **error)
{
  gnutls_datum_t data;

  g_return_val_if_fail (cert_pem != NULL, FALSE);

  data.data = (unsigned char *) cert_pem;
  data.size = strlen (cert_pem);
  return import_crt (&data, GNUTLS_X509_FMT_PEM, HEARTH_ERROR_INVALID, out, error);
}

static gboolean
pubkey_from_privkey (gnutls_privkey_t key, gnutls_pubkey_t *out, GError **error)
{
  g_auto (gnutls_pubkey_t) pub = NULL;
  int ret;

  ret = gnutls_pubkey_init (&pub);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot allocate a public key");

  ret = gnutls_pubkey_import_privkey (pub, key, 0, 0);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot derive the public key");

  *out = g_steal_pointer (&pub);
  return TRUE;
}

static gboolean
pubkey_key_id (gnutls_pubkey_t pub, guint8 *id, size_t *id_len, GError **error)
{
  int ret;

  *id_len = KEY_ID_MAX;
  ret = gnutls_pubkey_get_key_id (pub, GNUTLS_KEYID_USE_SHA1, id, id_len);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot compute the key identifier");
  return TRUE;
}

static gboolean
check_common_name (const char *common_name, GError **error)
{
  const char *p;

  if (common_name == NULL || *common_name == '\0') {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "The common name is empty");
    return FALSE;
  }
  if (!g_utf8_validate (common_name, -1, NULL)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "The common name is not valid UTF-8");
    return FALSE;
  }
  if (g_utf8_strlen (common_name, -1) > MAX_COMMON_NAME) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "The common name is longer than %d characters", MAX_COMMON_NAME);
    return FALSE;
  }
  for (p = common_name; *p != '\0'; p = g_utf8_next_char (p)) {
    if (g_unichar_iscntrl (g_utf8_get_char (p))) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                           "The common name contains a control character");
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
check_days (guint days, GError **error)
{
  if (days == 0 || days > MAX_DAYS) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "A certificate lifetime of %u days is not between 1 and %d",
                 days, MAX_DAYS);
    return FALSE;
  }
  return TRUE;
}

/* A random positive serial number, as RFC 5280 asks for. */
static gboolean
random_serial (guint8 serial[SERIAL_BYTES], GError **error)
{
  if (!hearth_pki_random (serial, SERIAL_BYTES, error))
    return FALSE;
  serial[0] &= 0x7f;
  if (serial[0] == 0)
    serial[0] = 1;
  return TRUE;
}

/*
 * The fields every certificate here has: v3, serial, subject CN, validity from
 * an hour ago for @days days, the subject's public key and its key identifier.
 */
static gboolean
set_common_fields (gnutls_x509_crt_t crt,
                   gnutls_pubkey_t subject_key,
                   const char *common_name,
                   const guint8 *serial,
                   gsize serial_len,
                   guint days,
                   GError **error)
{
  guint8 key_id[KEY_ID_MAX];
  size_t key_id_len;
  time_t now = (time_t) (g_get_real_time () / G_USEC_PER_SEC);
  int ret;

  ret = gnutls_x509_crt_set_version (crt, 3);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot set the certificate version");

  ret = gnutls_x509_crt_set_serial (crt, serial, serial_len);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot set the serial number");

  ret = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                       common_name, strlen (common_name));
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_INVALID, ret, "Cannot set the common name");

  ret = gnutls_x509_crt_set_activation_time (crt, now - BACKDATE_SECONDS);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot set the activation time");

  ret = gnutls_x509_crt_set_expiration_time (crt, now + (time_t) days * SECONDS_PER_DAY);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot set the expiration time");

  ret = gnutls_x509_crt_set_pubkey (crt, subject_key);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot set the public key");

  if (!pubkey_key_id (subject_key, key_id, &key_id_len, error))
    return FALSE;
  ret = gnutls_x509_crt_set_subject_key_id (crt, key_id, key_id_len);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot set the subject key identifier");

  return TRUE;
}

static char *
sign_and_export (gnutls_x509_crt_t crt,
                 gnutls_x509_crt_t issuer,
                 gnutls_privkey_t issuer_key,
                 GError **error)
{
  g_auto (gnutls_datum_t) out = { NULL, 0 };
  int ret;

  ret = gnutls_x509_crt_privkey_sign (crt, issuer, issuer_key, GNUTLS_DIG_SHA256, 0);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot sign the certificate");
    return NULL;
  }

  ret = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &out);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot export the certificate");
    return NULL;
  }
  return g_strndup ((const char *) out.data, out.size);
}

/**
 * hearth_pki_generate_key:
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a new ECDSA P-256 private key, unencrypted PEM
 *   PKCS#8, or %NULL on error.
 */
char *
hearth_pki_generate_key (GError **error)
{
  g_auto (gnutls_x509_privkey_t) key = NULL;
  g_auto (gnutls_datum_t) out = { NULL, 0 };
  int ret;

  ret = gnutls_x509_privkey_init (&key);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot allocate a private key");
    return NULL;
  }

  ret = gnutls_x509_privkey_generate2 (key, GNUTLS_PK_ECDSA,
                                       GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1),
                                       0, NULL, 0);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot generate an ECDSA P-256 key");
    return NULL;
  }

  ret = gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL,
                                           GNUTLS_PKCS_PLAIN, &out);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot export the private key");
    return NULL;
  }
  return g_strndup ((const char *) out.data, out.size);
}

/**
 * hearth_pki_public_key_from_private:
 * @key_pem: a PEM private key
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the PEM SubjectPublicKeyInfo of @key_pem, or %NULL
 *   with %HEARTH_ERROR_INVALID if @key_pem is not a private key.
 */
char *
hearth_pki_public_key_from_private (const char *key_pem, GError **error)
{
  g_auto (gnutls_privkey_t) key = NULL;
  g_auto (gnutls_pubkey_t) pub = NULL;
  g_auto (gnutls_datum_t) out = { NULL, 0 };
  int ret;

  g_return_val_if_fail (key_pem != NULL, NULL);

  if (!import_privkey (key_pem, &key, error) ||
      !pubkey_from_privkey (key, &pub, error))
    return NULL;

  ret = gnutls_pubkey_export2 (pub, GNUTLS_X509_FMT_PEM, &out);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot export the public key");
    return NULL;
  }
  return g_strndup ((const char *) out.data, out.size);
}

static gboolean
add_ip_san (gnutls_x509_crt_t crt, const char *ip, GError **error)
{
  g_autoptr (GInetAddress) address = NULL;
  g_autofree char *bare = g_strdup (ip);
  char *zone;
  int ret;

  /* A zone ("fe80::1%eth0") says where to reach an address, it is not part of
   * it; a certificate can only name the address. */
  zone = strchr (bare, '%');
  if (zone != NULL)
    *zone = '\0';

  address = g_inet_address_new_from_string (bare);
  if (address == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "“%s” is not an IP address", ip);
    return FALSE;
  }

  ret = gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_IPADDRESS,
                                              g_inet_address_to_bytes (address),
                                              g_inet_address_get_native_size (address),
                                              GNUTLS_FSAN_APPEND);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_INVALID, ret, "Cannot add an IP address name");
  return TRUE;
}

/* The CA certificate's subject key identifier, or failing that the SHA-1 key
 * id of its public key (what gnutls would have put there). */
static gboolean
ca_key_id (gnutls_x509_crt_t ca, gnutls_pubkey_t ca_pub,
           guint8 *id, size_t *id_len, GError **error)
{
  unsigned int critical;

  *id_len = KEY_ID_MAX;
  if (gnutls_x509_crt_get_subject_key_id (ca, id, id_len, &critical) >= 0)
    return TRUE;
  return pubkey_key_id (ca_pub, id, id_len, error);
}

/*
 * Loads an issuer: its certificate must be a CA and @key_pem its key. @what
 * names it in errors ("Household CA"). Also gives its key identifier, for the
 * authority key identifier of what it signs.
 */
static gboolean
load_issuer (const char *cert_pem,
             const char *key_pem,
             const char *what,
             gnutls_x509_crt_t *out_crt,
             gnutls_privkey_t *out_key,
             guint8 *id,
             size_t *id_len,
             GError **error)
{
  g_auto (gnutls_x509_crt_t) ca = NULL;
  g_auto (gnutls_privkey_t) ca_key = NULL;
  g_auto (gnutls_pubkey_t) ca_pub = NULL;
  g_auto (gnutls_pubkey_t) ca_key_pub = NULL;
  guint8 ca_cert_key_id[KEY_ID_MAX], ca_key_key_id[KEY_ID_MAX];
  size_t ca_cert_key_id_len, ca_key_key_id_len;
  int ret;

  if (!import_crt_pem (cert_pem, &ca, error) ||
      !import_privkey (key_pem, &ca_key, error)) {
    g_prefix_error (error, "%s: ", what);
    return FALSE;
  }
  if (gnutls_x509_crt_get_ca_status (ca, NULL) <= 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS,
                 "%s: the certificate is not a CA certificate", what);
    return FALSE;
  }

  ret = gnutls_pubkey_init (&ca_pub);
  if (ret >= 0)
    ret = gnutls_pubkey_import_x509 (ca_pub, ca, 0);
  if (ret < 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS,
                 "%s: cannot read its public key: %s", what, gnutls_strerror (ret));
    return FALSE;
  }
  if (!pubkey_from_privkey (ca_key, &ca_key_pub, error) ||
      !pubkey_key_id (ca_pub, ca_cert_key_id, &ca_cert_key_id_len, error) ||
      !pubkey_key_id (ca_key_pub, ca_key_key_id, &ca_key_key_id_len, error))
    return FALSE;
  if (ca_cert_key_id_len != ca_key_key_id_len ||
      memcmp (ca_cert_key_id, ca_key_key_id, ca_key_key_id_len) != 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS,
                 "%s: the private key does not belong to the certificate", what);
    return FALSE;
  }
  if (!ca_key_id (ca, ca_pub, id, id_len, error))
    return FALSE;

  *out_crt = g_steal_pointer (&ca);
  *out_key = g_steal_pointer (&ca_key);
  return TRUE;
}

/* A TLS server certificate for @key_pem, signed by the issuer, or by itself
 * when @issuer_cert_pem is NULL. */
static char *
server_cert (const char *issuer_cert_pem,
             const char *issuer_key_pem,
             const char *key_pem,
             const char *common_name,
             const char *const *dns_names,
             const char *const *ip_addresses,
             guint days,
             GError **error)
{
  g_auto (gnutls_privkey_t) key = NULL;
  g_auto (gnutls_pubkey_t) pub = NULL;
  g_auto (gnutls_x509_crt_t) crt = NULL;
  g_auto (gnutls_x509_crt_t) issuer = NULL;
  g_auto (gnutls_privkey_t) issuer_key = NULL;
  guint8 issuer_id[KEY_ID_MAX];
  size_t issuer_id_len = 0;
  guint8 serial[SERIAL_BYTES];
  int ret;

  g_return_val_if_fail (key_pem != NULL, NULL);

  if (!check_common_name (common_name, error) ||
      !check_days (days, error) ||
      !import_privkey (key_pem, &key, error) ||
      !pubkey_from_privkey (key, &pub, error) ||
      !random_serial (serial, error))
    return NULL;

  if (issuer_cert_pem != NULL &&
      !load_issuer (issuer_cert_pem, issuer_key_pem, "Gateway root CA", &issuer,
                    &issuer_key, issuer_id, &issuer_id_len, error))
    return NULL;

  ret = gnutls_x509_crt_init (&crt);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot allocate a certificate");
    return NULL;
  }

  if (!set_common_fields (crt, pub, common_name, serial, sizeof serial, days, error))
    return NULL;

  for (gsize i = 0; dns_names != NULL && dns_names[i] != NULL; i++) {
    if (*dns_names[i] == '\0') {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                           "A DNS name is empty");
      return NULL;
    }
    ret = gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_DNSNAME, dns_names[i],
                                                strlen (dns_names[i]), GNUTLS_FSAN_APPEND);
    if (ret < 0) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "Cannot use “%s” as a DNS name: %s", dns_names[i], gnutls_strerror (ret));
      return NULL;
    }
  }

  for (gsize i = 0; ip_addresses != NULL && ip_addresses[i] != NULL; i++) {
    if (!add_ip_san (crt, ip_addresses[i], error))
      return NULL;
  }

  ret = gnutls_x509_crt_set_basic_constraints (crt, 0, -1);
  if (ret >= 0)
    ret = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
  if (ret >= 0)
    ret = gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
  if (ret >= 0 && issuer != NULL)
    ret = gnutls_x509_crt_set_authority_key_id (crt, issuer_id, issuer_id_len);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot set the certificate extensions");
    return NULL;
  }

  if (issuer != NULL)
    return sign_and_export (crt, issuer, issuer_key, error);
  return sign_and_export (crt, crt, key, error);
}

/**
 * hearth_pki_make_server_cert:
 * @key_pem: the server's PEM private key
 * @common_name: the subject CN
 * @dns_names: (nullable) (array zero-terminated=1): DNS subject alternative names
 * @ip_addresses: (nullable) (array zero-terminated=1): IP subject alternative
 *   names; an IPv6 zone ("%eth0") is accepted and left out
 * @days: lifetime in days
 * @error: return location for a #GError
 *
 * Makes a self-signed TLS server certificate (not a CA; key usage
 * digitalSignature; key purpose TLS WWW server), valid from one hour ago.
 *
 * Returns: (transfer full): the PEM certificate, or %NULL on error.
 */
char *
hearth_pki_make_server_cert (const char *key_pem,
                             const char *common_name,
                             const char *const *dns_names,
                             const char *const *ip_addresses,
                             guint days,
                             GError **error)
{
  return server_cert (NULL, NULL, key_pem, common_name, dns_names, ip_addresses,
                      days, error);
}

/**
 * hearth_pki_issue_server_cert:
 * @ca_cert_pem: the gateway root CA certificate
 * @ca_key_pem: its private key
 * @key_pem: the server's PEM private key
 * @common_name: the subject CN
 * @dns_names: (nullable) (array zero-terminated=1): DNS subject alternative names
 * @ip_addresses: (nullable) (array zero-terminated=1): IP subject alternative names
 * @days: lifetime in days
 * @error: return location for a #GError
 *
 * As hearth_pki_make_server_cert(), but signed by the CA (with its authority
 * key identifier).
 *
 * Returns: (transfer full): the PEM certificate, or %NULL on error.
 */
char *
hearth_pki_issue_server_cert (const char *ca_cert_pem,
                              const char *ca_key_pem,
                              const char *key_pem,
                              const char *common_name,
                              const char *const *dns_names,
                              const char *const *ip_addresses,
                              guint days,
                              GError **error)
{
  g_return_val_if_fail (ca_cert_pem != NULL, NULL);
  g_return_val_if_fail (ca_key_pem != NULL, NULL);

  return server_cert (ca_cert_pem, ca_key_pem, key_pem, common_name, dns_names,
                      ip_addresses, days, error);
}

/* A self-signed CA for end-entity certificates only (path length 0), with
 * @nc as its name constraints if not NULL. */
static gboolean
make_ca (const char *common_name,
         guint days,
         gnutls_x509_name_constraints_t nc,
         char **ca_cert_pem,
         char **ca_key_pem,
         GError **error)
{
  g_autofree char *key_pem = NULL;
  g_autofree char *cert_pem = NULL;
  g_auto (gnutls_privkey_t) key = NULL;
  g_auto (gnutls_pubkey_t) pub = NULL;
  g_auto (gnutls_x509_crt_t) crt = NULL;
  guint8 serial[SERIAL_BYTES];
  int ret;

  g_return_val_if_fail (ca_cert_pem != NULL, FALSE);
  g_return_val_if_fail (ca_key_pem != NULL, FALSE);

  if (!check_common_name (common_name, error) ||
      !check_days (days, error))
    return FALSE;

  key_pem = hearth_pki_generate_key (error);
  if (key_pem == NULL ||
      !import_privkey (key_pem, &key, error) ||
      !pubkey_from_privkey (key, &pub, error) ||
      !random_serial (serial, error))
    return FALSE;

  ret = gnutls_x509_crt_init (&crt);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot allocate a certificate");

  if (!set_common_fields (crt, pub, common_name, serial, sizeof serial, days, error))
    return FALSE;

  ret = gnutls_x509_crt_set_basic_constraints (crt, 1, 0);
  if (ret >= 0)
    ret = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
  if (ret >= 0 && nc != NULL)
    ret = gnutls_x509_crt_set_name_constraints (crt, nc, 0);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot set the CA extensions");

  cert_pem = sign_and_export (crt, crt, key, error);
  if (cert_pem == NULL)
    return FALSE;

  *ca_cert_pem = g_steal_pointer (&cert_pem);
  *ca_key_pem = g_steal_pointer (&key_pem);
  return TRUE;
}

/**
 * hearth_pki_make_ca:
 * @common_name: the CA's CN
 * @days: lifetime in days
 * @ca_cert_pem: (out) (transfer full): the self-signed PEM CA certificate
 * @ca_key_pem: (out) (transfer full): the CA's new PEM private key
 * @error: return location for a #GError
 *
 * Makes a CA that may sign end-entity certificates only (path length 0).
 *
 * Returns: %TRUE on success; on error the out arguments are left alone.
 */
gboolean
hearth_pki_make_ca (const char *common_name,
                    guint days,
                    char **ca_cert_pem,
                    char **ca_key_pem,
                    GError **error)
{
  return make_ca (common_name, days, NULL, ca_cert_pem, ca_key_pem, error);
}

/* The raw bytes of @text, an IP address with an optional "/prefix" (none:
 * the whole address), followed by its netmask: the form of a name
 * constraint's iPAddress (RFC 5280 4.2.1.10). */
static gboolean
ip_range_bytes (const char *text, guint8 out[32], guint *out_len, GError **error)
{
  g_autoptr (GInetAddressMask) mask = g_inet_address_mask_new_from_string (text, NULL);
  GInetAddress *address;
  gsize size;
  guint bits;

  if (mask == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "“%s” is not an address range", text);
    return FALSE;
  }
  address = g_inet_address_mask_get_address (mask);
  size = g_inet_address_get_native_size (address);
  bits = g_inet_address_mask_get_length (mask);
  memcpy (out, g_inet_address_to_bytes (address), size);
  memset (out + size, 0, size);
  for (guint i = 0; i < bits; i++)
    out[size + i / 8] |= (guint8) (0x80 >> (i % 8));
  *out_len = (guint) (2 * size);
  return TRUE;
}

/**
 * hearth_pki_make_root_ca:
 * @common_name: the CA's CN
 * @days: lifetime in days
 * @dns_domains: (array zero-terminated=1): the DNS names (and the names under
 *   them) it may sign for
 * @ip_ranges: (array zero-terminated=1): the address ranges ("10.0.0.0/8",
 *   "::1") it may sign for
 * @ca_cert_pem: (out) (transfer full): the self-signed PEM CA certificate
 * @ca_key_pem: (out) (transfer full): the CA's new PEM private key
 * @error: return location for a #GError
 *
 * As hearth_pki_make_ca(), with name constraints that permit only
 * @dns_domains and @ip_ranges, so that a device that trusts it trusts it for
 * those names only (where the device honours name constraints). The
 * extension is not marked critical: a client that does not understand it
 * then still accepts the CA (as the CA/Browser Forum allows), and one that
 * does enforces it.
 *
 * Returns: %TRUE on success; on error the out arguments are left alone.
 */
gboolean
hearth_pki_make_root_ca (const char *common_name,
                         guint days,
                         const char *const *dns_domains,
                         const char *const *ip_ranges,
                         char **ca_cert_pem,
                         char **ca_key_pem,
                         GError **error)
{
  g_auto (gnutls_x509_name_constraints_t) nc = NULL;
  int ret;

  g_return_val_if_fail (dns_domains != NULL && ip_ranges != NULL, FALSE);

  ret = gnutls_x509_name_constraints_init (&nc);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot allocate name constraints");

  for (gsize i = 0; dns_domains[i] != NULL; i++) {
    gnutls_datum_t name = { (unsigned char *) dns_domains[i], strlen (dns_domains[i]) };

    if (name.size == 0) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                           "A permitted DNS name is empty");
      return FALSE;
    }
    ret = gnutls_x509_name_constraints_add_permitted (nc, GNUTLS_SAN_DNSNAME, &name);
    if (ret < 0)
      return set_gnutls_error (error, HEARTH_ERROR_INVALID, ret, "Cannot permit a DNS name");
  }
  for (gsize i = 0; ip_ranges[i] != NULL; i++) {
    guint8 bytes[32];
    gnutls_datum_t range = { bytes, 0 };

    if (!ip_range_bytes (ip_ranges[i], bytes, &range.size, error))
      return FALSE;
    ret = gnutls_x509_name_constraints_add_permitted (nc, GNUTLS_SAN_IPADDRESS, &range);
    if (ret < 0)
      return set_gnutls_error (error, HEARTH_ERROR_INVALID, ret, "Cannot permit an address range");
  }
  return make_ca (common_name, days, nc, ca_cert_pem, ca_key_pem, error);
}

static gboolean
check_client_key (gnutls_pubkey_t pub, GError **error)
{
  gnutls_datum_t x = { NULL, 0 };
  gnutls_datum_t y = { NULL, 0 };
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  int ret;

  if (gnutls_pubkey_get_pk_algorithm (pub, NULL) == GNUTLS_PK_ECDSA) {
    ret = gnutls_pubkey_export_ecc_raw2 (pub, &curve, &x, &y, 0);
    gnutls_free (x.data);
    gnutls_free (y.data);
    if (ret >= 0 && curve == GNUTLS_ECC_CURVE_SECP256R1)
      return TRUE;
  }

  g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                       "public key must be ECDSA P-256");
  return FALSE;
}

/**
 * hearth_pki_issue_client_cert:
 * @ca_cert_pem: the household CA certificate
 * @ca_key_pem: the household CA private key
 * @public_key_pem: the display's PEM SubjectPublicKeyInfo
 * @common_name: the subject CN (the display name)
 * @serial: the serial number (the display id)
 * @days: lifetime in days
 * @error: return location for a #GError
 *
 * Issues a TLS client certificate signed by the CA. A key other than ECDSA
 * P-256 is refused with %HEARTH_ERROR_INVALID; a CA key that does not belong
 * to the CA certificate with %HEARTH_ERROR_TLS.
 *
 * Returns: (transfer full): the PEM certificate, or %NULL on error.
 */
char *
hearth_pki_issue_client_cert (const char *ca_cert_pem,
                              const char *ca_key_pem,
                              const char *public_key_pem,
                              const char *common_name,
                              guint64 serial,
                              guint days,
                              GError **error)
{
  g_auto (gnutls_x509_crt_t) ca = NULL;
  g_auto (gnutls_privkey_t) ca_key = NULL;
  g_auto (gnutls_pubkey_t) pub = NULL;
  g_auto (gnutls_x509_crt_t) crt = NULL;
  guint8 ca_id[KEY_ID_MAX];
  size_t ca_id_len;
  guint8 serial_bytes[9];
  gsize serial_len = 0;
  gnutls_datum_t data;
  int ret;

  g_return_val_if_fail (ca_cert_pem != NULL, NULL);
  g_return_val_if_fail (ca_key_pem != NULL, NULL);
  g_return_val_if_fail (public_key_pem != NULL, NULL);

  if (!check_common_name (common_name, error) ||
      !check_days (days, error))
    return NULL;

  /* The display's key first: it is the input a peer controls. */
  ret = gnutls_pubkey_init (&pub);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot allocate a public key");
    return NULL;
  }
  data.data = (unsigned char *) public_key_pem;
  data.size = strlen (public_key_pem);
  ret = gnutls_pubkey_import (pub, &data, GNUTLS_X509_FMT_PEM);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_INVALID, ret, "Cannot read the PEM public key");
    return NULL;
  }
  if (!check_client_key (pub, error))
    return NULL;

  if (!load_issuer (ca_cert_pem, ca_key_pem, "Household CA", &ca, &ca_key,
                    ca_id, &ca_id_len, error))
    return NULL;

  /* DER INTEGERs are signed: a serial with its top bit set needs a zero byte
   * in front to stay positive (libtasn1 trims redundant leading zeros). */
  if (serial >> 63)
    serial_bytes[serial_len++] = 0;
  for (int shift = 56; shift >= 0; shift -= 8)
    serial_bytes[serial_len++] = (guint8) (serial >> shift);

  ret = gnutls_x509_crt_init (&crt);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot allocate a certificate");
    return NULL;
  }

  if (!set_common_fields (crt, pub, common_name, serial_bytes, serial_len, days, error))
    return NULL;

  ret = gnutls_x509_crt_set_basic_constraints (crt, 0, -1);
  if (ret >= 0)
    ret = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
  if (ret >= 0)
    ret = gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
  if (ret >= 0)
    ret = gnutls_x509_crt_set_authority_key_id (crt, ca_id, ca_id_len);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot set the certificate extensions");
    return NULL;
  }

  return sign_and_export (crt, ca, ca_key, error);
}

/**
 * hearth_pki_fingerprint_der:
 * @der: (array length=len): certificate DER bytes
 * @len: length of @der
 *
 * Returns: (transfer full): the SHA-256 of @der, 64 lowercase hex characters;
 *   the same as the SHA-256 fingerprint `certtool -i` prints.
 */
char *
hearth_pki_fingerprint_der (const guint8 *der, gsize len)
{
  g_return_val_if_fail (der != NULL || len == 0, NULL);

  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, der, len);
}

/**
 * hearth_pki_fingerprint_pem:
 * @cert_pem: a PEM certificate
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the SHA-256 fingerprint of the certificate's DER,
 *   or %NULL with %HEARTH_ERROR_INVALID.
 */
char *
hearth_pki_fingerprint_pem (const char *cert_pem, GError **error)
{
  g_autoptr (GBytes) der = NULL;
  gsize len;
  const guint8 *data;

  der = hearth_pki_cert_der_from_pem (cert_pem, error);
  if (der == NULL)
    return NULL;
  data = g_bytes_get_data (der, &len);
  return hearth_pki_fingerprint_der (data, len);
}

/**
 * hearth_pki_cert_der_from_pem:
 * @cert_pem: a PEM certificate (the first one is used)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the certificate's DER bytes, or %NULL with
 *   %HEARTH_ERROR_INVALID.
 */
GBytes *
hearth_pki_cert_der_from_pem (const char *cert_pem, GError **error)
{
  g_auto (gnutls_x509_crt_t) crt = NULL;
  g_auto (gnutls_datum_t) out = { NULL, 0 };
  int ret;

  g_return_val_if_fail (cert_pem != NULL, NULL);

  if (!import_crt_pem (cert_pem, &crt, error))
    return NULL;

  ret = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_DER, &out);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot export the certificate");
    return NULL;
  }
  return g_bytes_new (out.data, out.size);
}

static const char *
verify_status_reason (unsigned int status)
{
  if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNATURE_FAILURE))
    return "it was not issued by this CA";
  if (status & GNUTLS_CERT_EXPIRED)
    return "it has expired";
  if (status & GNUTLS_CERT_NOT_ACTIVATED)
    return "it is not yet valid";
  if (status & GNUTLS_CERT_REVOKED)
    return "it has been revoked";
  if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
    return "it is signed with an insecure algorithm";
  if (status & GNUTLS_CERT_SIGNER_NOT_CA)
    return "its issuer is not a CA";
  return NULL;
}

/*
 * Whether @crt is signed by *@ca as its only trust anchor (which this takes
 * and clears). @flags: gnutls_certificate_verify_flags.
 */
static gboolean
verify_signed_by (gnutls_x509_crt_t crt,
                  gnutls_x509_crt_t *ca,
                  unsigned int flags,
                  GError **error)
{
  g_auto (gnutls_x509_trust_list_t) list = NULL;
  unsigned int status = 0;
  const char *reason;
  int ret;

  ret = gnutls_x509_trust_list_init (&list, 0);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot allocate a trust list");

  /* The list owns the CA certificate from here on. */
  ret = gnutls_x509_trust_list_add_cas (list, ca, 1, 0);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot add the CA");
  *ca = NULL;

  ret = gnutls_x509_trust_list_verify_crt2 (list, &crt, 1, NULL, 0, flags, &status, NULL);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_DENIED, ret, "Certificate refused");
  if (status == 0)
    return TRUE;

  reason = verify_status_reason (status);
  if (reason != NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                 "Certificate refused: %s", reason);
  } else {
    g_auto (gnutls_datum_t) text = { NULL, 0 };

    if (gnutls_certificate_verification_status_print (status, GNUTLS_CRT_X509, &text, 0) >= 0)
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                   "Certificate refused: %.*s", (int) text.size, (const char *) text.data);
    else
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                   "Certificate refused: verification status 0x%x", status);
  }
  return FALSE;
}

/**
 * hearth_pki_verify_issued_by:
 * @der: (array length=len): the certificate to check, DER
 * @len: length of @der
 * @ca_cert_pem: the only trust anchor
 * @error: return location for a #GError
 *
 * Checks that the certificate is signed by the CA and valid now. The CA
 * certificate itself is not accepted as one it issued.
 *
 * Returns: %TRUE if so; else %FALSE with %HEARTH_ERROR_DENIED saying why
 *   (%HEARTH_ERROR_TLS if @ca_cert_pem cannot be read).
 */
gboolean
hearth_pki_verify_issued_by (const guint8 *der,
                             gsize len,
                             const char *ca_cert_pem,
                             GError **error)
{
  g_auto (gnutls_x509_crt_t) crt = NULL;
  g_auto (gnutls_x509_crt_t) ca = NULL;
  g_autoptr (GBytes) ca_der = NULL;
  g_autoptr (GBytes) der_bytes = NULL;
  g_autoptr (GError) local_error = NULL;
  gnutls_datum_t data;

  g_return_val_if_fail (der != NULL || len == 0, FALSE);
  g_return_val_if_fail (ca_cert_pem != NULL, FALSE);

  if (len > G_MAXUINT) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                         "Certificate refused: it is too large");
    return FALSE;
  }

  if (!import_crt_pem (ca_cert_pem, &ca, &local_error)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS,
                 "Household CA: %s", local_error->message);
    return FALSE;
  }

  data.data = (unsigned char *) der;
  data.size = (unsigned int) len;
  if (!import_crt (&data, GNUTLS_X509_FMT_DER, HEARTH_ERROR_DENIED, &crt, error)) {
    g_prefix_error (error, "Certificate refused: ");
    return FALSE;
  }

  ca_der = hearth_pki_cert_der_from_pem (ca_cert_pem, error);
  if (ca_der == NULL)
    return FALSE;
  der_bytes = g_bytes_new_static (der, len);
  if (g_bytes_equal (ca_der, der_bytes)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                         "Certificate refused: it is the CA certificate itself");
    return FALSE;
  }

  return verify_signed_by (crt, &ca, 0, error);
}

static gboolean
import_crt_der (GBytes *der, gnutls_x509_crt_t *out, GError **error)
{
  gnutls_datum_t data;
  gsize len;

  data.data = (unsigned char *) g_bytes_get_data (der, &len);
  if (len > G_MAXUINT) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                         "Certificate refused: it is too large");
    return FALSE;
  }
  data.size = (unsigned int) len;
  return import_crt (&data, GNUTLS_X509_FMT_DER, HEARTH_ERROR_DENIED, out, error);
}

/* The DER SubjectPublicKeyInfo of @crt, or of @key when @crt is NULL. */
static GBytes *
public_key_der (gnutls_x509_crt_t crt, gnutls_privkey_t key, GError **error)
{
  g_auto (gnutls_pubkey_t) pub = NULL;
  g_auto (gnutls_datum_t) out = { NULL, 0 };
  int ret;

  if (key != NULL) {
    if (!pubkey_from_privkey (key, &pub, error))
      return NULL;
    ret = 0;
  } else {
    ret = gnutls_pubkey_init (&pub);
    if (ret >= 0)
      ret = gnutls_pubkey_import_x509 (pub, crt, 0);
  }
  if (ret >= 0)
    ret = gnutls_pubkey_export2 (pub, GNUTLS_X509_FMT_DER, &out);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot read the public key");
    return NULL;
  }
  return g_bytes_new (out.data, out.size);
}

/* An IP address as text, without a zone; NULL if @text is not one. */
static char *
normal_ip (const char *text)
{
  g_autofree char *bare = g_strdup (text);
  g_autoptr (GInetAddress) address = NULL;
  char *zone = strchr (bare, '%');

  if (zone != NULL)
    *zone = '\0';
  address = g_inet_address_new_from_string (bare);
  return address != NULL ? g_inet_address_to_string (address) : NULL;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

/* "dns:NAME" and "ip:ADDRESS" for each subject alternative name, sorted. */
static GPtrArray *
crt_names (gnutls_x509_crt_t crt)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  for (unsigned int i = 0;; i++) {
    char buf[256];
    size_t size = sizeof buf;
    unsigned int critical;
    int type = gnutls_x509_crt_get_subject_alt_name (crt, i, buf, &size, &critical);

    if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
      break;
    if (type == GNUTLS_SAN_DNSNAME) {
      g_ptr_array_add (names, g_strdup_printf ("dns:%.*s", (int) size, buf));
    } else if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16)) {
      g_autoptr (GInetAddress) address =
          g_inet_address_new_from_bytes ((const guint8 *) buf, size == 4
                                         ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
      g_autofree char *text = g_inet_address_to_string (address);

      g_ptr_array_add (names, g_strconcat ("ip:", text, NULL));
    } else if (type < 0 && type != GNUTLS_E_SHORT_MEMORY_BUFFER) {
      break;
    }
  }
  g_ptr_array_sort (names, compare_strings);
  return names;
}

/* What crt_names() would say of a certificate with these names. */
static GPtrArray *
wanted_names (const char *const *dns_names, const char *const *ip_addresses)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  for (gsize i = 0; dns_names != NULL && dns_names[i] != NULL; i++)
    g_ptr_array_add (names, g_strconcat ("dns:", dns_names[i], NULL));
  for (gsize i = 0; ip_addresses != NULL && ip_addresses[i] != NULL; i++) {
    g_autofree char *ip = normal_ip (ip_addresses[i]);

    g_ptr_array_add (names, g_strconcat ("ip:", ip != NULL ? ip : ip_addresses[i], NULL));
  }
  g_ptr_array_sort (names, compare_strings);
  return names;
}

/**
 * hearth_pki_server_cert_check:
 * @cert_pem: the server certificate in use
 * @ca_cert_pem: the CA that must have issued it
 * @key_pem: the server's private key, which it must certify
 * @dns_names: (nullable) (array zero-terminated=1): the DNS names it must have
 * @ip_addresses: (nullable) (array zero-terminated=1): the IP addresses it must have
 * @renew_seconds: it must be valid for at least this long from now
 * @error: return location for a #GError
 *
 * Whether the certificate can go on being served: issued by the CA, for the
 * key, with exactly these subject alternative names (in any order), and not
 * about to expire.
 *
 * Returns: %TRUE if so; else %FALSE with %HEARTH_ERROR_INVALID saying why it
 *   must be renewed (%HEARTH_ERROR_TLS if the CA or key cannot be read).
 */
gboolean
hearth_pki_server_cert_check (const char *cert_pem,
                              const char *ca_cert_pem,
                              const char *key_pem,
                              const char *const *dns_names,
                              const char *const *ip_addresses,
                              gint64 renew_seconds,
                              GError **error)
{
  g_auto (gnutls_x509_crt_t) crt = NULL;
  g_auto (gnutls_x509_crt_t) ca = NULL;
  g_auto (gnutls_privkey_t) key = NULL;
  g_autoptr (GBytes) cert_pub = NULL;
  g_autoptr (GBytes) key_pub = NULL;
  g_autoptr (GPtrArray) have = NULL;
  g_autoptr (GPtrArray) want = NULL;
  g_autoptr (GError) local_error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  time_t expires;

  g_return_val_if_fail (cert_pem != NULL && ca_cert_pem != NULL && key_pem != NULL, FALSE);

  if (!import_crt_pem (ca_cert_pem, &ca, error) ||
      !import_privkey (key_pem, &key, error)) {
    g_prefix_error (error, "Gateway root CA or key: ");
    return FALSE;
  }
  if (!import_crt_pem (cert_pem, &crt, &local_error)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "it cannot be read: %s", local_error->message);
    return FALSE;
  }
  if (!verify_signed_by (crt, &ca, 0, &local_error)) {
    const char *reason = local_error->message;

    if (g_str_has_prefix (reason, "Certificate refused: "))
      reason += strlen ("Certificate refused: ");
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "it does not verify against the root CA: %s", reason);
    return FALSE;
  }

  cert_pub = public_key_der (crt, NULL, error);
  key_pub = public_key_der (NULL, key, error);
  if (cert_pub == NULL || key_pub == NULL)
    return FALSE;
  if (!g_bytes_equal (cert_pub, key_pub)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "it is for another key");
    return FALSE;
  }

  have = crt_names (crt);
  want = wanted_names (dns_names, ip_addresses);
  for (guint i = 0, j = 0; i < have->len || j < want->len;) {
    int cmp = i == have->len ? 1 : j == want->len ? -1
              : g_strcmp0 (have->pdata[i], want->pdata[j]);

    if (cmp != 0) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID, "%s %s",
                   cmp < 0 ? "it names" : "it does not name",
                   strchr (cmp < 0 ? have->pdata[i] : want->pdata[j], ':') + 1);
      return FALSE;
    }
    i++;
    j++;
  }

  expires = gnutls_x509_crt_get_expiration_time (crt);
  if ((gint64) expires - now < renew_seconds) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "it expires in %" G_GINT64_FORMAT " days",
                 MAX ((gint64) expires - now, 0) / SECONDS_PER_DAY);
    return FALSE;
  }
  return TRUE;
}

/**
 * hearth_pki_ca_permits:
 * @ca_cert_pem: a CA certificate
 * @name: a DNS name or an IP address (an IPv6 zone is ignored)
 *
 * Returns: whether the CA's name constraints (if any) let it certify @name;
 *   %FALSE if @ca_cert_pem cannot be read.
 */
gboolean
hearth_pki_ca_permits (const char *ca_cert_pem, const char *name)
{
  g_auto (gnutls_x509_crt_t) ca = NULL;
  g_auto (gnutls_x509_name_constraints_t) nc = NULL;
  g_autofree char *ip = normal_ip (name);
  unsigned int critical;
  gnutls_datum_t datum;
  int ret;

  g_return_val_if_fail (ca_cert_pem != NULL && name != NULL, FALSE);

  if (!import_crt_pem (ca_cert_pem, &ca, NULL) ||
      gnutls_x509_name_constraints_init (&nc) < 0)
    return FALSE;
  ret = gnutls_x509_crt_get_name_constraints (ca, nc, 0, &critical);
  if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
    return TRUE;
  if (ret < 0)
    return FALSE;

  if (ip != NULL) {
    g_autoptr (GInetAddress) address = g_inet_address_new_from_string (ip);

    datum.data = (unsigned char *) g_inet_address_to_bytes (address);
    datum.size = (unsigned int) g_inet_address_get_native_size (address);
    return gnutls_x509_name_constraints_check (nc, GNUTLS_SAN_IPADDRESS, &datum) != 0;
  }
  datum.data = (unsigned char *) name;
  datum.size = (unsigned int) strlen (name);
  return gnutls_x509_name_constraints_check (nc, GNUTLS_SAN_DNSNAME, &datum) != 0;
}

/* Whether @ca_der is a CA certificate that signed @leaf (dates not
 * checked); @pem: (out) (optional) it as PEM. */
static gboolean
signed_by_ca (gnutls_x509_crt_t leaf, GBytes *ca_der, char **pem, GError **error)
{
  g_auto (gnutls_x509_crt_t) ca = NULL;

  if (!import_crt_der (ca_der, &ca, error))
    return FALSE;
  if (gnutls_x509_crt_get_ca_status (ca, NULL) <= 0) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                         "it is not a CA certificate");
    return FALSE;
  }
  if (pem != NULL) {
    g_auto (gnutls_datum_t) out = { NULL, 0 };

    if (gnutls_x509_crt_export2 (ca, GNUTLS_X509_FMT_PEM, &out) < 0) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                           "it cannot be exported");
      return FALSE;
    }
    *pem = g_strndup ((const char *) out.data, out.size);
  }
  return verify_signed_by (leaf, &ca, GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
                           GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS, error);
}

/**
 * hearth_pki_check_pin:
 * @chain: (element-type GBytes): the DER certificates a server presented,
 *   its own first, then its issuers
 * @pin: the pinned SHA-256 fingerprint
 * @pinned_cert_pem: (nullable): the pinned certificate itself, if known
 * @ca_fingerprint: (out) (optional) (transfer full): for
 *   %HEARTH_PKI_PIN_MIGRATE, the fingerprint to pin from now on
 * @ca_pem: (out) (optional) (transfer full): for %HEARTH_PKI_PIN_MIGRATE, that
 *   certificate, PEM
 * @error: return location for a #GError
 *
 * Decides whether a server is the one pinned, in one of three ways:
 *
 * - the pin is the server's own certificate (exactly what was pinned);
 * - the pin is a CA certificate in @chain that signed the server's
 *   certificate (the gateway's root CA). Its validity dates are not checked:
 *   displays on a LAN without a time source may not know the date, and the
 *   pin, not the calendar, says whom to trust;
 * - %HEARTH_PKI_PIN_MIGRATE: the pin is an earlier self-signed server
 *   certificate (@pinned_cert_pem, not a CA), and the server's certificate
 *   has the same public key and is signed by a CA in @chain. Only the holder
 *   of that key can complete a TLS handshake with it, which is what the old
 *   pin trusted; the caller may move its pin to the CA, once the handshake
 *   has completed.
 *
 * Returns: %HEARTH_PKI_PIN_MATCH, %HEARTH_PKI_PIN_MIGRATE, or
 *   %HEARTH_PKI_PIN_REFUSED with %HEARTH_ERROR_DENIED saying why.
 */
HearthPkiPin
hearth_pki_check_pin (GPtrArray *chain,
                      const char *pin,
                      const char *pinned_cert_pem,
                      char **ca_fingerprint,
                      char **ca_pem,
                      GError **error)
{
  g_auto (gnutls_x509_crt_t) leaf = NULL;
  g_autofree char *leaf_fp = NULL;
  gboolean same_key = FALSE;

  g_return_val_if_fail (chain != NULL && pin != NULL, HEARTH_PKI_PIN_REFUSED);

  if (chain->len == 0) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                         "the server presented no certificate");
    return HEARTH_PKI_PIN_REFUSED;
  }
  leaf_fp = hearth_pki_fingerprint_der (g_bytes_get_data (chain->pdata[0], NULL),
                                        g_bytes_get_size (chain->pdata[0]));
  if (g_str_equal (leaf_fp, pin))
    return HEARTH_PKI_PIN_MATCH;
  if (!import_crt_der (chain->pdata[0], &leaf, error))
    return HEARTH_PKI_PIN_REFUSED;

  if (pinned_cert_pem != NULL) {
    g_autofree char *pinned_fp = hearth_pki_fingerprint_pem (pinned_cert_pem, NULL);
    g_auto (gnutls_x509_crt_t) pinned = NULL;

    if (pinned_fp != NULL && g_str_equal (pinned_fp, pin) &&
        import_crt_pem (pinned_cert_pem, &pinned, NULL) &&
        gnutls_x509_crt_get_ca_status (pinned, NULL) <= 0) {
      g_autoptr (GBytes) pinned_pub = public_key_der (pinned, NULL, NULL);
      g_autoptr (GBytes) leaf_pub = public_key_der (leaf, NULL, NULL);

      same_key = pinned_pub != NULL && leaf_pub != NULL &&
                 g_bytes_equal (pinned_pub, leaf_pub);
    }
  }

  /* First the pinned CA; failing that, a CA to migrate to. */
  for (guint i = 1; i < chain->len; i++) {
    g_autofree char *fp = hearth_pki_fingerprint_der (g_bytes_get_data (chain->pdata[i], NULL),
                                                      g_bytes_get_size (chain->pdata[i]));
    g_autoptr (GError) local_error = NULL;

    if (!g_str_equal (fp, pin))
      continue;
    if (!signed_by_ca (leaf, chain->pdata[i], NULL, &local_error)) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
                   "the server's certificate does not match the pinned CA: %s",
                   local_error->message);
      return HEARTH_PKI_PIN_REFUSED;
    }
    return HEARTH_PKI_PIN_MATCH;
  }
  for (guint i = 1; same_key && i < chain->len; i++) {
    g_autofree char *pem = NULL;

    if (!signed_by_ca (leaf, chain->pdata[i], &pem, NULL))
      continue;
    if (ca_fingerprint != NULL)
      *ca_fingerprint = hearth_pki_fingerprint_der (g_bytes_get_data (chain->pdata[i], NULL),
                                                    g_bytes_get_size (chain->pdata[i]));
    if (ca_pem != NULL)
      *ca_pem = g_steal_pointer (&pem);
    return HEARTH_PKI_PIN_MIGRATE;
  }

  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED,
               "no certificate the server presented matches the pinned fingerprint "
               "(its own is %s)", leaf_fp);
  return HEARTH_PKI_PIN_REFUSED;
}

static gboolean
write_all (int fd, const char *data, gsize len, GError **error)
{
  while (len > 0) {
    gssize n = write (fd, data, len);

    if (n < 0) {
      int saved_errno = errno;

      if (saved_errno == EINTR)
        continue;
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                   "%s", g_strerror (saved_errno));
      return FALSE;
    }
    data += n;
    len -= (gsize) n;
  }
  return TRUE;
}

/* The rename is only durable once the directory entry is on disk too. */
static gboolean
sync_directory (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd, saved_errno;

  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync (fd) < 0) {
    saved_errno = errno;
    if (fd >= 0)
      close (fd);
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "Cannot sync directory %s: %s", dir, g_strerror (saved_errno));
    return FALSE;
  }
  close (fd);
  return TRUE;
}

/**
 * hearth_pki_write_private_file:
 * @path: the file to create or replace
 * @contents: (array length=len): the bytes to write
 * @len: length of @contents, or -1 if it is NUL-terminated
 * @error: return location for a #GError
 *
 * Writes @contents to @path with mode 0600, atomically: readers see either the
 * old file or the whole new one, never a part, and never with looser mode. The
 * temporary file sits in the same directory (rename(2) cannot cross file
 * systems) and is removed on failure.
 *
 * Returns: %TRUE on success.
 */
gboolean
hearth_pki_write_private_file (const char *path,
                               const char *contents,
                               gssize len,
                               GError **error)
{
  g_autofree char *tmp_path = NULL;
  int fd, saved_errno;
  const char *step;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (contents != NULL || len == 0, FALSE);

  if (len < 0)
    len = strlen (contents);

  tmp_path = g_strconcat (path, ".tmp-XXXXXX", NULL);
  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    saved_errno = errno;
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "Cannot create a temporary file next to %s: %s",
                 path, g_strerror (saved_errno));
    return FALSE;
  }

  /* The umask may have taken bits away from 0600; the mode is exact. */
  step = "set the mode of";
  if (fchmod (fd, 0600) < 0)
    goto fail_errno;

  if (!write_all (fd, contents, (gsize) len, error)) {
    g_prefix_error (error, "Cannot write %s: ", tmp_path);
    goto fail;
  }

  step = "sync";
  if (fsync (fd) < 0)
    goto fail_errno;

  step = "close";
  if (close (fd) < 0) {
    fd = -1;
    goto fail_errno;
  }
  fd = -1;

  step = "rename";
  if (g_rename (tmp_path, path) < 0)
    goto fail_errno;

  return sync_directory (path, error);

fail_errno:
  saved_errno = errno;
  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
               "Cannot %s %s: %s", step, tmp_path, g_strerror (saved_errno));
fail:
  if (fd >= 0)
    close (fd);
  g_unlink (tmp_path);
  return FALSE;
}

/**
 * hearth_pki_random:
 * @buf: (out caller-allocates) (array length=len): where to put the bytes
 * @len: how many bytes
 * @error: return location for a #GError
 *
 * Fills @buf from GnuTLS's key-grade generator (for tokens, serials, keys).
 *
 * Returns: %TRUE on success.
 */
gboolean
hearth_pki_random (guint8 *buf, gsize len, GError **error)
{
  int ret;

  g_return_val_if_fail (buf != NULL || len == 0, FALSE);

  ret = gnutls_rnd (GNUTLS_RND_KEY, buf, len);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_FAILED, ret, "Cannot get random bytes");
  return TRUE;
}

/**
 * hearth_pki_equal_ct:
 * @a: (array length=len): a buffer
 * @b: (array length=len): a buffer of the same length
 * @len: their length
 *
 * Compares in time that depends on @len only, never on where the buffers
 * differ (for tokens and their hashes).
 *
 * Returns: %TRUE if the buffers are equal.
 */
gboolean
hearth_pki_equal_ct (const guint8 *a, const guint8 *b, gsize len)
{
  g_return_val_if_fail (a != NULL || len == 0, FALSE);
  g_return_val_if_fail (b != NULL || len == 0, FALSE);

  return gnutls_memcmp (a, b, len) == 0;
}

/* --- PKCS#12: an identity handed to a browser ------------------------------------ */

/*
 * The gateway makes a browser's key (a browser cannot make one for TLS client
 * login) and hands key and certificate over once as PKCS#12, sealed with a
 * one-time code. The encryption is the one every importer takes: PKCS#12
 * pbeWithSHAAnd3-KeyTripleDES-CBC for both bags and an HMAC-SHA-1 MAC. Apple's
 * importers (iOS, iPadOS, macOS Keychain) have refused PBES2/AES files, and
 * older Android and Windows too; Chromium/NSS and Firefox take either. The
 * code, not the cipher, is what an attacker with the file would attack: every
 * guess costs GnuTLS's iteration count (600,000) of the PKCS#12 key derivation.
 */

static gboolean
pkcs12_bag_new (gnutls_pkcs12_bag_t *out, GError **error)
{
  int ret = gnutls_pkcs12_bag_init (out);

  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot allocate a PKCS#12 bag");
  return TRUE;
}

/* Labels bag element @index with the friendly name and the local key id that
 * ties the certificate to its key. */
static gboolean
pkcs12_label (gnutls_pkcs12_bag_t bag, int index, const char *friendly_name,
              const gnutls_datum_t *key_id, GError **error)
{
  int ret = gnutls_pkcs12_bag_set_friendly_name (bag, (unsigned) index, friendly_name);

  if (ret >= 0)
    ret = gnutls_pkcs12_bag_set_key_id (bag, (unsigned) index, key_id);
  if (ret < 0)
    return set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot label a PKCS#12 bag");
  return TRUE;
}

/**
 * hearth_pki_make_pkcs12:
 * @key_pem: the identity's PEM private key
 * @cert_pem: its PEM certificate
 * @extra_cert_pems: (nullable) (array zero-terminated=1): PEM certificates to
 *   carry along (the certificate authorities a device should know)
 * @friendly_name: the name importers show for the identity
 * @password: the password that seals it (ASCII)
 * @error: return location for a #GError
 *
 * Builds a DER PKCS#12 file with GnuTLS's PKCS#12 API: a shrouded key bag
 * and an encrypted certificate bag (the certificate, then @extra_cert_pems),
 * the key and its certificate labelled with @friendly_name and one local key
 * id, all sealed with @password (PKCS#12 3DES/SHA-1) and a SHA-1 MAC. A
 * certificate that does not belong to the key is %HEARTH_ERROR_INVALID.
 *
 * Returns: (transfer full): the file, or %NULL with @error set.
 */
GBytes *
hearth_pki_make_pkcs12 (const char *key_pem,
                        const char *cert_pem,
                        const char *const *extra_cert_pems,
                        const char *friendly_name,
                        const char *password,
                        GError **error)
{
  g_auto (gnutls_x509_privkey_t) key = NULL;
  g_auto (gnutls_x509_crt_t) crt = NULL;
  g_auto (gnutls_privkey_t) abstract = NULL;
  g_auto (gnutls_pubkey_t) key_pub = NULL;
  g_auto (gnutls_pubkey_t) crt_pub = NULL;
  g_auto (gnutls_pkcs12_bag_t) certs = NULL;
  g_auto (gnutls_pkcs12_bag_t) keys = NULL;
  g_auto (gnutls_pkcs12_t) p12 = NULL;
  g_auto (gnutls_datum_t) der = { NULL, 0 };
  guint8 id[KEY_ID_MAX], crt_id[KEY_ID_MAX];
  size_t id_len, crt_id_len;
  gnutls_datum_t data, key_id;
  int ret, index;

  g_return_val_if_fail (key_pem != NULL && cert_pem != NULL, NULL);
  g_return_val_if_fail (friendly_name != NULL && password != NULL, NULL);

  if (!import_privkey (key_pem, &abstract, error) ||
      !pubkey_from_privkey (abstract, &key_pub, error) ||
      !pubkey_key_id (key_pub, id, &id_len, error) ||
      !import_crt_pem (cert_pem, &crt, error))
    return NULL;
  ret = gnutls_pubkey_init (&crt_pub);
  if (ret >= 0)
    ret = gnutls_pubkey_import_x509 (crt_pub, crt, 0);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_INVALID, ret, "Cannot read the certificate's key");
    return NULL;
  }
  if (!pubkey_key_id (crt_pub, crt_id, &crt_id_len, error))
    return NULL;
  if (crt_id_len != id_len || memcmp (crt_id, id, id_len) != 0) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "The certificate is not for this key");
    return NULL;
  }
  key_id.data = id;
  key_id.size = (unsigned) id_len;

  ret = gnutls_x509_privkey_init (&key);
  data.data = (unsigned char *) key_pem;
  data.size = strlen (key_pem);
  if (ret >= 0)
    ret = gnutls_x509_privkey_import2 (key, &data, GNUTLS_X509_FMT_PEM, NULL, 0);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_INVALID, ret, "Cannot read the PEM private key");
    return NULL;
  }

  /* The certificates, then the certificate authorities, in one encrypted bag. */
  if (!pkcs12_bag_new (&certs, error))
    return NULL;
  index = gnutls_pkcs12_bag_set_crt (certs, crt);
  if (index < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, index, "Cannot add the certificate");
    return NULL;
  }
  if (!pkcs12_label (certs, index, friendly_name, &key_id, error))
    return NULL;
  for (gsize i = 0; extra_cert_pems != NULL && extra_cert_pems[i] != NULL; i++) {
    g_auto (gnutls_x509_crt_t) extra = NULL;

    if (!import_crt_pem (extra_cert_pems[i], &extra, error))
      return NULL;
    ret = gnutls_pkcs12_bag_set_crt (certs, extra);
    if (ret < 0) {
      set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot add a certificate authority");
      return NULL;
    }
  }
  ret = gnutls_pkcs12_bag_encrypt (certs, password, GNUTLS_PKCS_PKCS12_3DES);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot encrypt the certificates");
    return NULL;
  }

  /* The key, as a shrouded (encrypted PKCS#8) key bag. */
  if (!pkcs12_bag_new (&keys, error))
    return NULL;
  index = gnutls_pkcs12_bag_set_privkey (keys, key, password, GNUTLS_PKCS_PKCS12_3DES);
  if (index < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, index, "Cannot add the private key");
    return NULL;
  }
  if (!pkcs12_label (keys, index, friendly_name, &key_id, error))
    return NULL;

  ret = gnutls_pkcs12_init (&p12);
  if (ret >= 0)
    ret = gnutls_pkcs12_set_bag (p12, certs);
  if (ret >= 0)
    ret = gnutls_pkcs12_set_bag (p12, keys);
  if (ret >= 0)
    ret = gnutls_pkcs12_generate_mac2 (p12, GNUTLS_MAC_SHA1, password);
  if (ret >= 0)
    ret = gnutls_pkcs12_export2 (p12, GNUTLS_X509_FMT_DER, &der);
  if (ret < 0) {
    set_gnutls_error (error, HEARTH_ERROR_TLS, ret, "Cannot build the PKCS#12 file");
    return NULL;
  }
  return g_bytes_new (der.data, der.size);
}
