/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define HEARTH_PAYLOAD_VERSION 1
#define HEARTH_PAYLOAD_MAX_LEN 2048
#define HEARTH_PAYLOAD_MAX_NAME 64
#define HEARTH_PAYLOAD_MAX_ADDRESSES 8

/* The pairing QR payload (see DESIGN.md "Pairing"). */
typedef struct {
  char *fingerprint;  /* 64 lowercase hex: SHA-256 of the gateway cert DER */
  GPtrArray *addresses; /* of char* "host:port" ("[v6]:port" for IPv6) */
  GPtrArray *stream_addresses; /* of char* "host:port": the stream port, which
                                * answers while no pairing window is open;
                                * empty from gateways that did not say */
  char *token;        /* 32 lowercase hex: the 128-bit token */
  char *name;         /* gateway name, UTF-8 */
} HearthPayload;

HearthPayload *hearth_payload_new (void);
void hearth_payload_free (HearthPayload *payload);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthPayload, hearth_payload_free)

/* Formats the one-line hearth:// URI. (transfer full) */
char *hearth_payload_format (const HearthPayload *payload);
/* Formats the https:// link a phone's camera opens; the first address is
 * its host and port. (transfer full) */
char *hearth_payload_format_link (const HearthPayload *payload);

/* Parses and validates either form; HEARTH_ERROR_INVALID naming the bad part. (transfer full) */
HearthPayload *hearth_payload_parse (const char *text, GError **error);

/* Splits "host:port" / "[v6]:port" (port required, 1..65535). */
gboolean hearth_payload_split_address (const char *address,
                                       char **host,
                                       guint16 *port,
                                       GError **error);

G_END_DECLS
