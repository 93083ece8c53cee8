/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Keys and certificates (GnuTLS). Everything crosses this API as PEM text or DER
 * bytes, so no other file needs gnutls.h. Keys are ECDSA P-256.
 */

/* Default lifetimes, in days. A TLS server certificate stays under the 398
 * days that Apple and Chromium accept (the hour it is backdated included);
 * it is renewed HEARTH_PKI_SERVER_RENEW_DAYS before it expires. */
#define HEARTH_PKI_SERVER_DAYS 390
#define HEARTH_PKI_SERVER_RENEW_DAYS 30
#define HEARTH_PKI_CA_DAYS 7300
#define HEARTH_PKI_CLIENT_DAYS 3650

/* A new ECDSA P-256 private key, PEM (PKCS#8). (transfer full) */
char *hearth_pki_generate_key (GError **error);

/* The PEM SubjectPublicKeyInfo of a PEM private key. (transfer full) */
char *hearth_pki_public_key_from_private (const char *key_pem, GError **error);

/*
 * A self-signed TLS server certificate for @key_pem: CN @common_name, subject
 * alternative names @dns_names and @ip_addresses (NULL-terminated, nullable),
 * key purpose TLS server, valid from one hour ago for @days days. (transfer full)
 */
char *hearth_pki_make_server_cert (const char *key_pem,
                                   const char *common_name,
                                   const char *const *dns_names,
                                   const char *const *ip_addresses,
                                   guint days,
                                   GError **error);

/* The same, signed by a CA (@ca_cert_pem, @ca_key_pem). (transfer full) */
char *hearth_pki_issue_server_cert (const char *ca_cert_pem,
                                    const char *ca_key_pem,
                                    const char *key_pem,
                                    const char *common_name,
                                    const char *const *dns_names,
                                    const char *const *ip_addresses,
                                    guint days,
                                    GError **error);

/*
 * TRUE if @cert_pem was issued by @ca_cert_pem for @key_pem, names exactly
 * @dns_names and @ip_addresses, and is valid for @renew_seconds more; else
 * HEARTH_ERROR_INVALID saying why it must be renewed.
 */
gboolean hearth_pki_server_cert_check (const char *cert_pem,
                                       const char *ca_cert_pem,
                                       const char *key_pem,
                                       const char *const *dns_names,
                                       const char *const *ip_addresses,
                                       gint64 renew_seconds,
                                       GError **error);

/* A new CA (its own key + self-signed CA certificate, CN @common_name, CA:TRUE
 * with path length 0, key usage certificate and CRL signing). */
gboolean hearth_pki_make_ca (const char *common_name,
                             guint days,
                             char **ca_cert_pem,
                             char **ca_key_pem,
                             GError **error);

/* The same, with name constraints permitting only @dns_domains (and names
 * under them) and the address ranges @ip_ranges ("192.168.0.0/16"). */
gboolean hearth_pki_make_root_ca (const char *common_name,
                                  guint days,
                                  const char *const *dns_domains,
                                  const char *const *ip_ranges,
                                  char **ca_cert_pem,
                                  char **ca_key_pem,
                                  GError **error);

/* Whether @ca_cert_pem's name constraints (if any) permit @name, a DNS
 * name or an IP address. */
gboolean hearth_pki_ca_permits (const char *ca_cert_pem, const char *name);

typedef enum {
  HEARTH_PKI_PIN_REFUSED,
  HEARTH_PKI_PIN_MATCH,   /* the pinned certificate, or a chain to the pinned CA */
  HEARTH_PKI_PIN_MIGRATE, /* the pinned self-signed certificate's key, now
                             certified by a CA in the chain */
} HearthPkiPin;

/*
 * Does the chain a server presented (GBytes DER, its own certificate first)
 * match @pin? @pinned_cert_pem (nullable) is the pinned certificate, for the
 * migration from a pinned self-signed certificate to its key's CA, whose
 * fingerprint and PEM are then given.
 */
HearthPkiPin hearth_pki_check_pin (GPtrArray *chain,
                                   const char *pin,
                                   const char *pinned_cert_pem,
                                   char **ca_fingerprint,
                                   char **ca_pem,
                                   GError **error);

/*
 * A TLS client certificate for @public_key_pem (PEM SubjectPublicKeyInfo; must be
 * ECDSA P-256, else HEARTH_ERROR_INVALID), CN @common_name, serial @serial, key
 * purpose TLS client, signed by the CA. (transfer full)
 */
char *hearth_pki_issue_client_cert (const char *ca_cert_pem,
                                    const char *ca_key_pem,
                                    const char *public_key_pem,
                                    const char *common_name,
                                    guint64 serial,
                                    guint days,
                                    GError **error);

/* SHA-256 of the DER, 64 lowercase hex characters. (transfer full) */
char *hearth_pki_fingerprint_der (const guint8 *der, gsize len);
char *hearth_pki_fingerprint_pem (const char *cert_pem, GError **error);

/* The DER bytes of a PEM certificate. (transfer full) */
GBytes *hearth_pki_cert_der_from_pem (const char *cert_pem, GError **error);

/*
 * TRUE if the DER certificate verifies against @ca_cert_pem as its only trust
 * anchor and is currently valid; else HEARTH_ERROR_DENIED saying why.
 */
gboolean hearth_pki_verify_issued_by (const guint8 *der,
                                      gsize len,
                                      const char *ca_cert_pem,
                                      GError **error);

/*
 * Writes @contents to @path with mode 0600, atomically (temp file in the same
 * directory, fsync, rename). Used for every private key and secret file.
 */
gboolean hearth_pki_write_private_file (const char *path,
                                        const char *contents,
                                        gssize len,
                                        GError **error);

/* Fills @buf with @len cryptographically random bytes. */
gboolean hearth_pki_random (guint8 *buf, gsize len, GError **error);

/* Constant-time comparison of two equal-length buffers. */
gboolean hearth_pki_equal_ct (const guint8 *a, const guint8 *b, gsize len);

/*
 * A DER PKCS#12 file holding @key_pem and @cert_pem (labelled @friendly_name)
 * and @extra_cert_pems (nullable, NULL-terminated), sealed with @password
 * (PKCS#12 3DES/SHA-1, SHA-1 MAC: what Apple, Android, NSS and Windows all
 * import). (transfer full)
 */
GBytes *hearth_pki_make_pkcs12 (const char *key_pem,
                                const char *cert_pem,
                                const char *const *extra_cert_pems,
                                const char *friendly_name,
                                const char *password,
                                GError **error);

G_END_DECLS
