/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "client.h"
#include "payload.h"

G_BEGIN_DECLS

/*
 * Pairing a display with a gateway: reading the QR code, asking the pairing
 * listener for a certificate, keeping the result.
 */

/* Everything a successful pairing gives; kept by hearth_display_pairing_save(). */
typedef struct {
  HearthDisplayConfig *config;
  char *key_pem;            /* the display's private key, made here */
  char *cert_pem;           /* its client certificate, from the gateway */
  char *ca_cert_pem;        /* the household CA */
  char *gateway_cert_pem;   /* the gateway certificate the QR code pinned */
} HearthPairing;

void hearth_pairing_free (HearthPairing *pairing);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthPairing, hearth_pairing_free)

char *hearth_display_read_qr_image (const char *path, GError **error);

HearthPairing *hearth_display_pair_request (HearthDisplayClient *client,
                                            const HearthPayload *payload,
                                            const char *display_name,
                                            GError **error);

gboolean hearth_display_pairing_save (const HearthPairing *pairing,
                                      const char *config_dir,
                                      GError **error);

G_END_DECLS
