/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gio/gio.h>
#include "config.h"

G_BEGIN_DECLS

/* Files in the state directory: the gateway's root CA (what devices install
 * and displays pin) and its TLS server key and certificate. */
#define HEARTH_STATE_CA_KEY_FILE "ca.key"
#define HEARTH_STATE_CA_CERT_FILE "ca.crt"

/*
 * HearthCerts: the gateway's TLS identity. A root CA of its own signs the
 * server certificate that the stream and pairing ports serve, with the CA
 * after it in the chain. Displays pin the CA, which never changes; the
 * server certificate names the host's names and local addresses and is
 * issued again, for the same key, when they change or it nears its end.
 *
 * Signals, on the main context:
 *   "changed" () the served certificate was renewed
 */
#define HEARTH_TYPE_CERTS (hearth_certs_get_type ())
G_DECLARE_FINAL_TYPE (HearthCerts, hearth_certs, HEARTH, CERTS, GObject)

/* @config must outlive the object. (transfer full) */
HearthCerts *hearth_certs_new (const HearthConfig *config);

/*
 * Makes what the state directory lacks (the server key, the root CA; on a
 * state directory of an older release, the CA and a server certificate it
 * signs for the existing key) and loads the certificate to serve, renewing it
 * if it does not fit.
 */
gboolean hearth_certs_load (HearthCerts *self, GError **error);

/* From now on, check again when the network changes and periodically. */
void hearth_certs_watch (HearthCerts *self);

/* Checks the served certificate now and renews it if it must ("changed"). */
gboolean hearth_certs_refresh (HearthCerts *self, GError **error);

/* The server certificate with its key, its issuer the root CA. (transfer none) */
GTlsCertificate *hearth_certs_get_certificate (HearthCerts *self);
const char *hearth_certs_get_ca_pem (HearthCerts *self);
/* The root CA's SHA-256 fingerprint: what displays pin. */
const char *hearth_certs_get_fingerprint (HearthCerts *self);

/*
 * The names a server certificate for this host should carry: "localhost",
 * @host_name and its ".local" name, @addresses (local addresses, then the
 * listening ones) without repeats, less those the CA @ca_cert_pem may not
 * certify (added to @left_out, nullable). (transfer full)
 */
void hearth_certs_wanted_names (const char *host_name,
                                GPtrArray *addresses,
                                const char *ca_cert_pem,
                                GPtrArray **dns_names,
                                GPtrArray **ip_addresses,
                                GPtrArray *left_out);

G_END_DECLS
