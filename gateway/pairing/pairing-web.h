/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/*
 * The pairing port's pages for a phone's or a computer's browser, and the
 * identity files it hands over (see pairing-web.c). HearthPairing decides;
 * these functions render, parse and hold the bytes.
 */

/* How long a browser's identity files can be downloaded after it paired. */
#define HEARTH_PAIRING_DELIVERY_US (10 * 60 * G_USEC_PER_SEC)

/* The headers every answer of the pairing port carries: no caching, a strict
 * content security policy, no framing, no referrer. */
void hearth_pairing_web_secure_headers (SoupServerMessage *msg);

/* TRUE for the paths the browser pages own (/pair, /pair/...). */
gboolean hearth_pairing_web_is_page_path (const char *path);

/* The page that names the gateway and household, with the name form. */
void hearth_pairing_web_reply_form (SoupServerMessage *msg, const char *gateway_name,
                                    const char *household, const char *token_hex);
/* 410: the link was used, has expired or was never valid; names nothing. */
void hearth_pairing_web_reply_gone (SoupServerMessage *msg);
/* A plain page for a refusal: @status and a sentence for people. */
void hearth_pairing_web_reply_problem (SoupServerMessage *msg, guint status,
                                       const char *message);
/* After pairing: the download links and the steps for each platform.
 * @stream_url is where the display watches. */
void hearth_pairing_web_reply_done (SoupServerMessage *msg, const char *household,
                                    const char *display_name, const char *delivery_id,
                                    const char *stream_url);
/* The stylesheet the pages link to. */
void hearth_pairing_web_reply_style (SoupServerMessage *msg);

/* The fields of a form-encoded request body, or NULL with HEARTH_ERROR_INVALID
 * saying what is wrong (content type, encoding). (transfer full) */
GHashTable *hearth_pairing_web_read_form (SoupServerMessage *msg, GError **error);
/* The same from a form's bytes (a NUL among them is an error). */
GHashTable *hearth_pairing_web_parse_form (const char *body, gsize len, GError **error);

/*
 * An Apple configuration profile: a com.apple.security.root payload for
 * @ca_der and a com.apple.security.pkcs12 payload for @p12, with no password
 * in it, so the device asks for the code. (transfer full)
 */
GBytes *hearth_pairing_web_mobileconfig (GBytes *p12, GBytes *ca_der,
                                         const char *gateway_name,
                                         const char *household,
                                         const char *display_name);

/* Identity files kept in memory for a short time under an unguessable id. */
typedef struct _HearthDeliveries HearthDeliveries;

HearthDeliveries *hearth_deliveries_new (void);
void hearth_deliveries_free (HearthDeliveries *self);
/* Keeps the files until @expires_at (µs, real time) and returns their id:
 * 32 hex digits from 128 random bits. (transfer full) */
char *hearth_deliveries_add (HearthDeliveries *self, GBytes *p12, GBytes *mobileconfig,
                             GBytes *ca_der, gint64 expires_at, GError **error);
/* Answers GET /pair/d/<id>/<file>: TRUE when served, FALSE (nothing
 * answered) when there is no such download. */
gboolean hearth_deliveries_serve (HearthDeliveries *self, SoupServerMessage *msg,
                                  const char *path, gint64 now);
/* Forgets what expired by @now; returns the next expiry, 0 if none is left. */
gint64 hearth_deliveries_expire (HearthDeliveries *self, gint64 now);
/* Forgets everything. */
void hearth_deliveries_clear (HearthDeliveries *self);

G_END_DECLS
