/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib-object.h>
#include "config.h"
#include "plugins.h"

G_BEGIN_DECLS

/*
 * HearthDaemon: owns and wires every service of hearthd — the store, the PKI
 * material, the cameras, the stream port, pairing and the admin socket — and
 * answers hearthctl's requests. All of it on the main context.
 */
#define HEARTH_TYPE_DAEMON (hearth_daemon_get_type ())
G_DECLARE_FINAL_TYPE (HearthDaemon, hearth_daemon, HEARTH, DAEMON, GObject)

/* Takes ownership of @config. (transfer full) */
HearthDaemon *hearth_daemon_new (HearthConfig *config);

/*
 * Creates the state directory (0700), opens the store, makes the gateway key
 * and root CA on first start (HearthCerts: the server certificate it signs
 * is renewed as the host's addresses change), starts the cameras and opens
 * the listeners.
 * With @demo: ensures a household "Home" with a synthetic camera when it has
 * none, opens a pairing window and prints its QR on stdout.
 */
gboolean hearth_daemon_start (HearthDaemon *self, gboolean demo, GError **error);
void hearth_daemon_stop (HearthDaemon *self);

/* The camera plugins of [cameras] plugin-dir (else the default directory);
 * the error says how to name the right one. --check-config loads them too,
 * as start-up stops without them. (transfer full) */
HearthPlugins *hearth_daemon_load_plugins (const HearthConfig *config,
                                           GError **error);

G_END_DECLS
