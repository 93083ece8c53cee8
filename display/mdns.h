/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Finding the gateway by mDNS when none of its known addresses answers: the
 * _hearth._tcp services on the LAN whose fp= TXT is the pinned fingerprint
 * and whose address is local. They are only addresses to try: the TLS pin
 * decides whether the one that answers is the gateway.
 */

#define HEARTH_DISPLAY_MDNS_SERVICE_TYPE "_hearth._tcp"
/* Default seconds a lookup may take. */
#define HEARTH_DISPLAY_MDNS_TIMEOUT_S 5
/* Most services looked at in one lookup (each costs a resolver). */
#define HEARTH_DISPLAY_MDNS_MAX_SERVICES 32

/* One announcement of the gateway, as resolved. */
typedef struct {
  char *name;          /* instance name, UTF-8, for messages */
  char *address;       /* IP address text; IPv6 link-local with "%zone" */
  guint16 port;        /* the stream port */
  guint16 pair_port;   /* 0: no pairing window open */
} HearthGatewayService;

void hearth_gateway_service_free (HearthGatewayService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthGatewayService, hearth_gateway_service_free)

void hearth_display_mdns_find_async (const char *fingerprint,
                                     guint timeout_ms,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
GPtrArray *hearth_display_mdns_find_finish (GAsyncResult *result,
                                            char **ignored,
                                            GError **error);

G_END_DECLS
