/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The parts of the onvif plugin (onvif.c) that its unit test
 * (tests/test-onvif.c) calls directly: message parsing and the
 * WS-Security digest. Nothing here is part of the plugin interface.
 */

#include <glib.h>

G_BEGIN_DECLS

/* The largest message read: a WS-Discovery datagram, an HTTP answer. */
#define ONVIF_MAX_DATAGRAM (64 * 1024)
#define ONVIF_MAX_RESPONSE (1024 * 1024)

typedef enum {
  ONVIF_MESSAGE_HELLO,
  ONVIF_MESSAGE_BYE,
  ONVIF_MESSAGE_PROBE_MATCHES,
  ONVIF_MESSAGE_OTHER,  /* a Probe (ours, or another client's), a Resolve… */
} OnvifMessageKind;

/* One device a WS-Discovery message speaks of. */
typedef struct {
  char *epr;              /* endpoint reference address: "urn:uuid:…" */
  gboolean is_camera;     /* its Types hold tdn:NetworkVideoTransmitter */
  char *xaddrs;           /* (nullable) space-separated service URLs */
  char *name;             /* (nullable) scope onvif://www.onvif.org/name/… */
  char *hardware;         /* (nullable) scope …/hardware/… */
  char *maker;            /* (nullable) scope …/mfr/… or …/manufacturer/… */
} OnvifDevice;

typedef struct {
  OnvifMessageKind kind;
  char *relates_to;       /* (nullable) wsa:RelatesTo */
  GPtrArray *devices;     /* of OnvifDevice; a Bye's has no xaddrs */
} OnvifMessage;

void onvif_message_free (OnvifMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (OnvifMessage, onvif_message_free)

/* Parses a WS-Discovery datagram. NULL with @error when it is not one
 * (too large, not XML, a DTD, not SOAP 1.2, no EPR…). (transfer full) */
OnvifMessage *onvif_parse_discovery (const char *data, gsize len, GError **error);

/* The first XAddr of @xaddrs that is an http:// URL to the numeric IPv4
 * address @from (the address the message came from; NULL: any), or NULL.
 * (transfer full) */
char *onvif_pick_xaddr (const char *xaddrs, const char *from);

/* Base64 (SHA-1 (nonce + created + password)), WS-Security UsernameToken
 * PasswordDigest. (transfer full) */
char *onvif_password_digest (const guint8 *nonce, gsize nonce_len, const char *created,
                             const char *password);

/* The answers the resolution reads, each a SOAP 1.2 envelope. All return
 * FALSE with @error for anything that is not the expected answer; a SOAP
 * fault that says the credentials were refused is
 * HEARTH_PLUGIN_ERROR_NOT_AUTHORIZED. */
typedef struct {
  char *token;
  guint width, height;    /* 0 when not said */
} OnvifProfile;

gboolean onvif_parse_capabilities (const char *data, gsize len, char **media_xaddr,
                                   GError **error);
gboolean onvif_parse_device_information (const char *data, gsize len, char **maker,
                                         char **model, char **serial, GError **error);
gboolean onvif_parse_network_interfaces (const char *data, gsize len, char **mac,
                                         GError **error);
/* @profiles: (out) (element-type OnvifProfile) */
gboolean onvif_parse_profiles (const char *data, gsize len, GPtrArray **profiles,
                               GError **error);
gboolean onvif_parse_stream_uri (const char *data, gsize len, char **uri, GError **error);
/* The device's UTC clock minus ours, in seconds. */
gboolean onvif_parse_system_date_and_time (const char *data, gsize len, gint64 *offset,
                                           GError **error);

/* Main (largest) and sub (smallest other) profile of @profiles, as indexes;
 * *@sub = -1 when there is one profile. */
void onvif_choose_profiles (GPtrArray *profiles, int *main_index, int *sub_index);

G_END_DECLS
