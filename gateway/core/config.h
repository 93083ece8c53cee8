/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include "netaddr.h"

G_BEGIN_DECLS

/*
 * HearthConfig: the daemon's settings, from a GKeyFile plus command-line
 * overrides, validated once and immutable after start. Every key has an
 * embedded default, so the gateway runs with no file at all.
 */
typedef struct {
  char *name;                 /* [gateway] name: shown to displays */
  char *state_dir;            /* --state-dir / [gateway] state-dir */
  char *listen;               /* [gateway] listen: stream port, HOST:PORT */
  char *pairing_listen;       /* [gateway] pairing-listen: HOST:PORT */
  char *control_socket;       /* [gateway] control-socket */
  HearthNetRanges *local_ranges; /* [gateway] local-networks */
  guint pairing_ttl;          /* [pairing] ttl-seconds */
  guint pairing_max_failures; /* [pairing] max-failures-per-minute per peer */
  guint max_connections;      /* [limits] max-connections (stream port) */
  guint max_handshakes;       /* [limits] max-handshakes: not yet through TLS */
  guint max_handshakes_per_peer; /* [limits] max-handshakes-per-peer */
  guint max_connections_per_display;   /* [limits] max-connections-per-display */
  guint max_connections_per_household; /* [limits] max-connections-per-household */
  guint max_streams_per_display; /* [limits] max-streams-per-display */
  guint64 gop_cache_bytes;    /* [limits] gop-cache-bytes */
  guint64 display_queue_bytes;/* [limits] display-queue-bytes */
  guint camera_backoff_min_ms;/* [cameras] backoff-min-ms */
  guint camera_backoff_max_ms;/* [cameras] backoff-max-ms */
  char *plugin_dir;           /* [cameras] plugin-dir; NULL:
                                 hearth_plugins_default_dir () */
  gboolean discovery_enabled; /* [discovery] enabled */
  char *auto_adopt_household; /* [discovery] auto-adopt: "" = off */

  /* Where the settings came from, to name the line of a bad one. */
  char *source_path;          /* nullable: built-in defaults only */
  char *source_text;
} HearthConfig;

#define HEARTH_DEFAULT_LISTEN "0.0.0.0:8443"
#define HEARTH_DEFAULT_PAIRING_LISTEN "0.0.0.0:8444"
#define HEARTH_DEFAULT_STATE_DIR "/var/lib/hearth"
#define HEARTH_DEFAULT_SOCKET_NAME "hearthd.sock"

/* Loads @path (nullable: defaults only). Unknown groups/keys and bad values
 * are errors naming the file, line, group, key and reason:
 * "PATH:LINE: [group] key: why". (transfer full) */
HearthConfig *hearth_config_load (const char *path, GError **error);
/* The same for a file's contents, @len bytes of @text (up to a NUL);
 * @path names it in errors. (transfer full) */
HearthConfig *hearth_config_load_data (const char *text, gsize len,
                                       const char *path, GError **error);
/* Re-validates after overrides have been written into the fields. */
gboolean hearth_config_validate (HearthConfig *self, GError **error);
/* Prefixes *@error with "PATH:LINE: " of @group/@key when the file sets it
 * to @value (NULL: to anything), i.e. when the file is to blame. */
void hearth_config_prefix_location (const HearthConfig *self, GError **error,
                                    const char *group, const char *key,
                                    const char *value);
/* Where the admin socket is: [gateway] control-socket, else
 * STATE_DIR/hearthd.sock. (transfer full) */
char *hearth_config_get_control_socket (const HearthConfig *self);
void hearth_config_free (HearthConfig *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthConfig, hearth_config_free)

G_END_DECLS
