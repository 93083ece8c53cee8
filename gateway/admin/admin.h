/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib-object.h>

#include "cameras.h"
#include "certs.h"
#include "config.h"
#include "control.h"
#include "discovery.h"
#include "http-server.h"
#include "pairing.h"
#include "store.h"

G_BEGIN_DECLS

/*
 * HearthAdmin: the admin socket's methods, what hearthctl asks hearthd
 * (see admin.c for the list). The daemon makes it the HearthControl's
 * handler. All of it on the main context.
 */
/* The name of the temporary copy a backup is made in, inside the state
 * directory: g_mkstemp() replaces the six X with random characters. The
 * daemon removes such files, and SQLite's journals of them, that a killed
 * run left (daemon.c, by HEARTH_ADMIN_BACKUP_TMP_GLOB). */
#define HEARTH_ADMIN_BACKUP_TMP_PREFIX ".hearth-backup-"
#define HEARTH_ADMIN_BACKUP_TMP_NAME HEARTH_ADMIN_BACKUP_TMP_PREFIX "XXXXXX.tmp"
#define HEARTH_ADMIN_BACKUP_TMP_GLOB HEARTH_ADMIN_BACKUP_TMP_PREFIX "??????.tmp*"

#define HEARTH_TYPE_ADMIN (hearth_admin_get_type ())
G_DECLARE_FINAL_TYPE (HearthAdmin, hearth_admin, HEARTH, ADMIN, GObject)

/* @config: the daemon's, which outlives it. */
HearthAdmin *hearth_admin_new (const HearthConfig *config, HearthStore *store,
                               HearthCerts *certs, HearthHttpServer *http,
                               HearthPairing *pairing, HearthCameras *camera_set);
/* Reports on @discovery (once; without it mDNS is "off"). */
void hearth_admin_set_discovery (HearthAdmin *self, HearthDiscovery *discovery);
/* Drops the requests that wait for a pairing window's event. */
void hearth_admin_stop (HearthAdmin *self);

/* A HearthControlHandler; @user_data is the HearthAdmin. */
void hearth_admin_handle_request (HearthControl *control, HearthControlRequest *req,
                                  gpointer user_data);

/* Adds household @name with its own certificate authority: its id, or 0.
 * (The demo makes its household with it too.) */
gint64 hearth_admin_household_add (HearthAdmin *self, const char *name, GError **error);

G_END_DECLS
