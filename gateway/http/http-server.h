/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "access.h"
#include "cameras.h"
#include "config.h"
#include "http-routes.h"

G_BEGIN_DECLS

/*
 * HearthHttpServer: the stream port. HTTPS with a requested client
 * certificate, accepted only through HearthAccess; a client without one is
 * told it is not paired, whatever it asks; hands every other request, once
 * its display is resolved, to its route (/v1/... and the viewer, /), each
 * registered with the state it owns (api-*.c).
 */
#define HEARTH_TYPE_HTTP_SERVER (hearth_http_server_get_type ())
G_DECLARE_FINAL_TYPE (HearthHttpServer, hearth_http_server, HEARTH, HTTP_SERVER,
                      GObject)

/* @cameras: the cameras it serves; it follows their "access-changed"
 * (hearth_http_server_recheck), and so do its routes. */
HearthHttpServer *hearth_http_server_new (HearthAccess *access,
                                          HearthCameras *cameras,
                                          const HearthConfig *config);
gboolean hearth_http_server_listen (HearthHttpServer *self,
                                    GTlsCertificate *certificate,
                                    const char *address,
                                    GError **error);
/* A renewed certificate: for the connections that follow. */
void hearth_http_server_set_certificate (HearthHttpServer *self,
                                         GTlsCertificate *certificate);
guint16 hearth_http_server_get_port (HearthHttpServer *self);
/* Re-runs the access check for every connection with an identity now;
 * closes those whose display no longer resolves. Run on its HearthCameras'
 * "access-changed" (the live route cuts its streams then too). */
void hearth_http_server_recheck (HearthHttpServer *self);
/* Live streams open (api-live.c). */
guint hearth_http_server_get_n_streams (HearthHttpServer *self);
/* Open connections to the stream port, authenticated or not yet. */
guint hearth_http_server_get_n_connections (HearthHttpServer *self);
guint hearth_http_server_count_viewers (HearthHttpServer *self,
                                        const char *camera_id);
void hearth_http_server_close (HearthHttpServer *self);
/* The port's routing table, as its routes registered themselves (for
 * tests: what a path is routed to). (transfer none) */
HearthHttpRoutes *hearth_http_server_get_routes (HearthHttpServer *self);

G_END_DECLS
