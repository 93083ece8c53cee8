/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gio/gio.h>
#include "access.h"
#include "config.h"
#include "store.h"

G_BEGIN_DECLS

/*
 * HearthPairing: pairing windows and the pairing listener (DESIGN.md
 * "Pairing"). The listener (TLS, server authentication only) is open only
 * while a window is open. Signals, on the main context:
 *   "paired" (gint64 window_id, gint64 display_id, const char *display_name)
 *   "window-closed" (gint64 window_id)  — expired unused
 *   "listener-changed" ()  — the listener opened or closed (get_port)
 */
#define HEARTH_TYPE_PAIRING (hearth_pairing_get_type ())
G_DECLARE_FINAL_TYPE (HearthPairing, hearth_pairing, HEARTH, PAIRING, GObject)

/* @certificate: what the listener serves; @pinned_pem: the certificate
 * displays pin (the gateway's root CA), whose fingerprint the QR payload
 * carries and which the pairing answer gives. */
HearthPairing *hearth_pairing_new (HearthStore *store,
                                   HearthAccess *access,
                                   const HearthConfig *config,
                                   GTlsCertificate *certificate,
                                   const char *pinned_pem);
/* A renewed certificate: for the connections that follow. */
void hearth_pairing_set_certificate (HearthPairing *self, GTlsCertificate *certificate);
/* Where displays stream from, for the pairing answer. */
void hearth_pairing_set_stream_port (HearthPairing *self, guint16 port);

/* Opens the listener if windows are left open in the store from before a
 * restart; call once after construction. */
gboolean hearth_pairing_start (HearthPairing *self, GError **error);

/*
 * Opens a window for @household for @ttl seconds and returns the QR payload,
 * the https:// link (which carries the only copy of the token), and in @code
 * (optional, transfer full) the one-time code that seals a browser's identity:
 * show it only where the QR code is shown. (transfer full)
 */
char *hearth_pairing_open_window (HearthPairing *self, const char *household,
                                  guint ttl, gint64 *window_id,
                                  gint64 *expires_at_us, char **code,
                                  GError **error);

/* The certificate a browser's device installs to trust the gateway (PEM).
 * (transfer none) */
const char *hearth_pairing_trust_anchor_pem (HearthPairing *self);

/* The pairing listener's port, 0 while closed. */
guint16 hearth_pairing_get_port (HearthPairing *self);
void hearth_pairing_close (HearthPairing *self);

/* The pure parts of a pairing request, for tests and fuzzing: the JSON of
 * POST /v1/pair and the checked fields of the browser's form (POST /pair).
 * HEARTH_ERROR_INVALID with the message the requester is shown. */
gboolean hearth_pairing_parse_request (const char *body, gsize len,
                                       guint8 token_hash[32], char **public_key,
                                       char **name, GError **error);
gboolean hearth_pairing_parse_form (GHashTable *form, guint8 token_hash[32],
                                    const char **name, GError **error);

G_END_DECLS
