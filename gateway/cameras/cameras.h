/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib-object.h>
#include "config.h"
#include "discovery.h"
#include "camera.h"
#include "plugins.h"
#include "store.h"

G_BEGIN_DECLS

/*
 * HearthCameras: the adopted cameras' ingest (one HearthCamera each, in a
 * table it owns; others look a camera up by id) and their identity:
 * admission of every ingest run, quarantine, following a camera to a new
 * address, adoption of discovered cameras (invariant 5). See cameras.c.
 *
 * Signals (main context, never while its table is being iterated):
 *   "access-changed" ()  something that can take access away happened (a
 *       quarantine, or hearth_cameras_access_changed()): whoever serves
 *       cameras re-checks what it serves now, before any camera is stopped;
 *   "camera-removed" (const char *id)  @id's ingest stopped and left the
 *       table (removed, moved, restarted, quarantined): nothing cached for it
 *       may outlive it. Not emitted by hearth_cameras_stop().
 */
#define HEARTH_TYPE_CAMERAS (hearth_cameras_get_type ())
G_DECLARE_FINAL_TYPE (HearthCameras, hearth_cameras, HEARTH, CAMERAS, GObject)

HearthCameras *hearth_cameras_new (const HearthConfig *config, HearthStore *store,
                                   HearthPlugins *plugins);
/* Follows @discovery's announcements (once, before start). */
void hearth_cameras_set_discovery (HearthCameras *self, HearthDiscovery *discovery);
/* Starts every camera in the store (a quarantined one is not ingested). */
gboolean hearth_cameras_start (HearthCameras *self, GError **error);
void hearth_cameras_stop (HearthCameras *self);

void hearth_cameras_start_one (HearthCameras *self, const HearthCameraRow *row);
void hearth_cameras_stop_one (HearthCameras *self, const char *id);
/* Stops and starts @id again from its row: a new generation (invariant 6). */
void hearth_cameras_restart (HearthCameras *self, const char *id);
/* After a change that can take access away (revocation, deletion, removal,
 * move): "access-changed" first, then stops the cameras that no longer have
 * a row. */
void hearth_cameras_access_changed (HearthCameras *self);

/* @id's ingest, running or refused. (transfer none) (nullable) */
HearthCamera *hearth_cameras_lookup (HearthCameras *self, const char *id);
/* How many cameras have an ingest, running or refused. */
guint hearth_cameras_get_n (HearthCameras *self);

/* The plugin that drives @row's camera. (transfer none) (nullable) */
const HearthPlugin *hearth_cameras_get_plugin (HearthCameras *self,
                                               const HearthCameraRow *row);
/* Whether a service announcing @row's camera is resolved now. */
gboolean hearth_cameras_is_announced (HearthCameras *self, const HearthCameraRow *row);

/* A service mDNS shows now that a plugin takes. */
typedef struct {
  HearthFound *found;          /* a reference */
  const HearthPlugin *plugin;  /* the plugin that takes it */
  char *model;                 /* (nullable) as its TXT records say */
  char *maker;                 /* (nullable) as its plugin reads it (ONVIF scopes) */
  HearthCameraRow *adopted;    /* (nullable) the adopted camera it is */
} HearthDiscovered;

/* What mDNS shows now, and which camera each is. (transfer full)
 * (element-type HearthDiscovered) */
GPtrArray *hearth_cameras_list_discovered (HearthCameras *self);
/* camera.adopt, for every kind of camera: a camera whose plugin asks the
 * device for its stream URLs (ONVIF) is asked, with @user and @password,
 * before it is adopted; its URLs must be local and point at the device's own
 * address. A device that refuses the credentials is HEARTH_ERROR_DENIED
 * "the camera refused the user name or password". */
void hearth_cameras_adopt_async (HearthCameras *self, const char *id,
                                 const char *household, const char *name,
                                 const char *user, const char *password,
                                 GAsyncReadyCallback callback, gpointer user_data);
/* (transfer full) (nullable): the camera's UUID */
char *hearth_cameras_adopt_finish (HearthCameras *self, GAsyncResult *result,
                                   GError **error);
/* camera.adopt, for cameras whose URL needs no asking (mDNS, a UUID again).
 * (transfer full) (nullable): the camera's UUID */
char *hearth_cameras_adopt (HearthCameras *self, const char *id, const char *household,
                            const char *name, const char *user, const char *password,
                            GError **error);

G_END_DECLS
