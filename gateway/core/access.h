/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gio/gio.h>
#include "store.h"
#include "netaddr.h"

G_BEGIN_DECLS

/*
 * HearthAccess: the one choke point (DESIGN.md invariant 2). Every request
 * resolves client certificate → display row → household → camera set here,
 * straight from the store, with no cache that could outlive a change to it.
 * Another household's camera and a camera that does not exist get the same
 * answer: HEARTH_ERROR_NOT_FOUND.
 */
#define HEARTH_TYPE_ACCESS (hearth_access_get_type ())
G_DECLARE_FINAL_TYPE (HearthAccess, hearth_access, HEARTH, ACCESS, GObject)

HearthAccess *hearth_access_new (HearthStore *store,
                                 const HearthNetRanges *local_ranges);

/* Is this peer allowed to talk to us at all (invariant 7)? NOT_LOCAL if not. */
gboolean hearth_access_check_peer (HearthAccess *self, GSocketAddress *remote,
                                   GError **error);

/*
 * At the TLS handshake: the peer certificate must be the certificate of a
 * display row that is not revoked, issued by that display's household CA.
 * Returns its fingerprint, to be kept on the connection. (transfer full)
 * Else NULL: NOT_LOCAL for a peer outside the local networks, DENIED for a
 * missing or refused certificate (audited and logged, rate-limited).
 */
char *hearth_access_accept_certificate (HearthAccess *self,
                                        GSocketAddress *remote,
                                        GTlsCertificate *peer,
                                        GError **error);

/*
 * A request from a device with no accepted display certificate (the stream
 * port asks for one but lets the handshake through without one, or with one
 * it refused): audited and logged as
 * "not-paired", at most AUDIT_BURST times a minute per peer, like every
 * refusal.
 */
void hearth_access_refuse_unpaired (HearthAccess *self, GSocketAddress *remote);

/* Per request: the display behind a connection's fingerprint, if it is still
 * paired and not revoked; else DENIED. (transfer full) */
HearthDisplayRow *hearth_access_resolve_display (HearthAccess *self,
                                                 const char *fingerprint,
                                                 GError **error);

/* The camera @camera_id if it belongs to @display's household; else NOT_FOUND
 * (also for malformed ids); QUARANTINED when its identity evidence changed
 * (invariant 5). (transfer full) */
HearthCameraRow *hearth_access_camera (HearthAccess *self,
                                       const HearthDisplayRow *display,
                                       const char *camera_id,
                                       GError **error);

/* The cameras of @display's household. (element-type HearthCameraRow) */
GPtrArray *hearth_access_cameras (HearthAccess *self,
                                  const HearthDisplayRow *display,
                                  GError **error);

/* Writes an audit entry; a failure to write is logged, never fatal. */
void hearth_access_audit (HearthAccess *self, const char *kind,
                          gint64 household_id, const char *detail);

G_END_DECLS
