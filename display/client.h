/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "payload.h"

G_BEGIN_DECLS

/*
 * The display's side of the gateway: its pairing files and the HTTPS requests
 * it makes. Every request goes through a HearthDisplayClient, which pins the
 * gateway certificate by its SHA-256 fingerprint (no CA trust) and, once
 * paired, presents the display's client certificate. When none of the known
 * addresses connects, it looks the gateway up by mDNS (mdns.h).
 *
 * Signals, on the thread-default main context:
 *   "gateway-moved" (const char *address, const char *store_error)
 *     a request reached the gateway at @address, found by mDNS; a paired
 *     client has stored it as the gateway's address (@store_error NULL) or
 *     could not (@store_error says why)
 */

/* Seconds an address may take to accept the TCP connection before the next is tried. */
#define HEARTH_DISPLAY_CONNECT_TIMEOUT_S 3
/* Seconds from there to the request written (TLS handshake included). */
#define HEARTH_DISPLAY_HANDSHAKE_TIMEOUT_S 10
/* Seconds a JSON request may take, answer included. */
#define HEARTH_DISPLAY_REQUEST_TIMEOUT_S 30

/* Files in the configuration directory. display.ini is written last. */
#define HEARTH_DISPLAY_INI "display.ini"
#define HEARTH_DISPLAY_KEY "display.key"
#define HEARTH_DISPLAY_CERT "display.crt"
#define HEARTH_DISPLAY_CA_CERT "ca.crt"
#define HEARTH_DISPLAY_GATEWAY_CERT "gateway.crt"

/* What display.ini says. */
typedef struct {
  char *gateway_fingerprint; /* 64 lowercase hex */
  char *gateway_name;
  char *household;
  char **stream_addresses;   /* "host:port", NULL-terminated */
  gint64 display_id;
  char *display_name;
} HearthDisplayConfig;

void hearth_display_config_free (HearthDisplayConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthDisplayConfig, hearth_display_config_free)

char *hearth_display_default_config_dir (void);

HearthDisplayConfig *hearth_display_config_load (const char *config_dir,
                                                 GError **error);

gboolean hearth_display_config_save_addresses (const char *config_dir,
                                               const char *const *stream_addresses,
                                               GError **error);

gboolean hearth_display_config_save (const char *config_dir,
                                     const HearthDisplayConfig *config,
                                     const char *key_pem,
                                     const char *cert_pem,
                                     const char *ca_cert_pem,
                                     const char *gateway_cert_pem,
                                     GError **error);

#define HEARTH_TYPE_DISPLAY_CLIENT (hearth_display_client_get_type ())
G_DECLARE_FINAL_TYPE (HearthDisplayClient, hearth_display_client,
                      HEARTH, DISPLAY_CLIENT, GObject)

HearthDisplayClient *hearth_display_client_new_for_pairing (const HearthPayload *payload,
                                                            GError **error);
HearthDisplayClient *hearth_display_client_new_from_config_dir (const char *config_dir,
                                                                GError **error);

const HearthDisplayConfig *hearth_display_client_get_config (HearthDisplayClient *self);

void hearth_display_client_set_mdns_timeout (HearthDisplayClient *self, guint timeout_ms);

void hearth_display_client_send_async (HearthDisplayClient *self,
                                       const char *method,
                                       const char *path,
                                       JsonNode *body,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
GInputStream *hearth_display_client_send_finish (HearthDisplayClient *self,
                                                 GAsyncResult *result,
                                                 GError **error);

JsonNode *hearth_display_client_request_json (HearthDisplayClient *self,
                                              const char *method,
                                              const char *path,
                                              JsonNode *body,
                                              GBytes **raw_body,
                                              GError **error);

gboolean hearth_display_json_get_number (JsonObject *object,
                                         const char *name,
                                         double *value);

G_END_DECLS
